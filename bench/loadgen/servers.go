package main

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// server is a process under test, started and stopped by the load generator.
type server struct {
	kind string // "pollchat" or "nchan"
	addr string
	cmd  *exec.Cmd
	dir  string
	log  *os.File
	done chan struct{}
	also []int // other processes whose CPU counts as the server's (mariadbd)
	// peers are the other pollchat processes of a cluster: their CPU and
	// RSS count as the server's, and they stop with it.
	peers []*server
	// aux are processes measured apart from the server (redis-server,
	// mariadbd behind a cluster), by name.
	aux map[string]int
}

// addrs are the addresses of the server and its peers.
func (s *server) addrs() []string {
	out := []string{s.addr}
	for _, p := range s.peers {
		out = append(out, p.addr)
	}
	return out
}

const secret = "bench-secret-0123456789abcdef"

// pollchatEnv is extra environment for pollchat (-pollchat-env), e.g.
// "GOMAXPROCS=1,GOGC=50" to try runtime settings.
var pollchatEnv string

// lobby (-lobby) joins every user to the first room on hello (chat.auto_join,
// a site's lobby). Off by default: each user then has only their own
// stream, as each Nchan subscriber has its own channel. With it on, the
// parked scenarios also measure a room of -parked members: pollchat (at
// commit 97b8312) announces each of the first 500 joins to every member,
// one engine append per member, and reads the whole member list on every
// hello and every first poll, which on Redis made the setup of 15,000
// users quadratic (parked-cluster parked 5,352 of them in 2 min).
var lobby bool

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// pollchatConfig is the server's config for a run: one room, rate limits
// off (the load is many users through one generator), the embedded store.
// With redisURL set it is one process of a cluster (which needs the
// MySQL store).
func pollchatConfig(addr, data, mysqlDSN, redisURL string) string {
	st := fmt.Sprintf("driver = \"embedded\"\npath = %q", data)
	if mysqlDSN != "" {
		st = fmt.Sprintf("driver = \"mysql\"\ndsn = %q", mysqlDSN)
	}
	if redisURL != "" {
		st += fmt.Sprintf("\n\n[cluster]\nredis_url = %q", redisURL)
	}
	return fmt.Sprintf(`[server]
listen = %q
poll_timeout = "25s"
poll_max = "60s"
allowed_origins = ["*"]

[auth]
secret = %q

[api]
login = "backend"
password = "backend-password"

[users]
source = "static"
[[users.static]]
user_id = "1"
name = "Ada"
role = "admin"

[store]
%s

[chat]
rooms = ["bench", "lobby"]
rate = 0
auto_join = %q

[presence]
grace = "40s"
`, addr, secret, st, autoJoin())
}

// autoJoin is chat.auto_join: the first room with -lobby, else none.
func autoJoin() string {
	if lobby {
		return "bench"
	}
	return "none"
}

func startPollchat(bin, mysqlDSN, redisURL string) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pollchat-bench-")
	if err != nil {
		return nil, err
	}
	s := &server{kind: "pollchat", addr: fmt.Sprintf("127.0.0.1:%d", port), dir: dir}
	cfg := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfg, []byte(pollchatConfig(s.addr, filepath.Join(dir, "data"), mysqlDSN, redisURL)), 0o600); err != nil {
		return nil, err
	}
	s.cmd = exec.Command(bin, "-config", cfg)
	if pollchatEnv != "" {
		s.cmd.Env = append(os.Environ(), strings.Split(pollchatEnv, ",")...)
	}
	return s, s.start("/healthz")
}

func startNchan(nginx, tmpl string, park time.Duration) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "nchan-bench-")
	if err != nil {
		return nil, err
	}
	for _, d := range []string{"logs", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	t, err := os.ReadFile(tmpl)
	if err != nil {
		return nil, err
	}
	conf := strings.NewReplacer("@PREFIX@", dir, "@LISTEN@", fmt.Sprintf("127.0.0.1:%d", port),
		"@TIMEOUT@", fmt.Sprintf("%ds", int(park.Seconds()))).Replace(string(t))
	cfg := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	s := &server{kind: "nchan", addr: fmt.Sprintf("127.0.0.1:%d", port), dir: dir}
	s.cmd = exec.Command(nginx, "-p", dir, "-c", cfg, "-e", filepath.Join(dir, "logs", "error.log"))
	return s, s.start("/nchan_status")
}

func (s *server) start(health string) error {
	f, err := os.Create(filepath.Join(s.dir, "server.log"))
	if err != nil {
		return err
	}
	s.log = f
	s.cmd.Stdout, s.cmd.Stderr = f, f
	s.cmd.Dir = s.dir
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("%s: %w", s.kind, err)
	}
	s.done = make(chan struct{})
	go func() { s.cmd.Wait(); close(s.done) }()
	c := newClient(s.addr)
	defer c.Close()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			b, _ := os.ReadFile(filepath.Join(s.dir, "server.log"))
			e, _ := os.ReadFile(filepath.Join(s.dir, "logs", "error.log"))
			return fmt.Errorf("%s exited at start-up:\n%s%s", s.kind, b, e)
		default:
		}
		r, err := c.get(health, nil, time.Now().Add(2*time.Second))
		if err == nil && r.status == 200 {
			// nginx answers before its worker is up: wait for it too.
			if s.kind != "nchan" || len(s.pids()) > 1 {
				return nil
			}
		}
		c.Close()
		time.Sleep(50 * time.Millisecond)
	}
	s.stop()
	return fmt.Errorf("%s did not answer %s in 20s", s.kind, health)
}

// pids are the server's processes: pollchat, or nginx's master and worker.
func (s *server) pids() []int {
	pid := s.cmd.Process.Pid
	out := append([]int{pid}, s.also...)
	for _, p := range s.peers {
		out = append(out, p.pids()...)
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err == nil {
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

// stop ends the server by its pid (SIGTERM, then SIGKILL after 10 s) and
// removes its directory.
func (s *server) stop() {
	for _, p := range s.peers {
		p.stop()
	}
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	pid := s.cmd.Process.Pid
	// pollchat answers parked polls and exits; nginx's master does a fast
	// shutdown and its worker follows.
	syscall.Kill(pid, syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		syscall.Kill(-pid, syscall.SIGKILL) // its own process group
		<-s.done
	}
	if s.log != nil {
		s.log.Close()
	}
	if os.Getenv("BENCH_KEEP") == "" {
		os.RemoveAll(s.dir)
	}
}

// cpuTicks is utime+stime of the server's processes, in clock ticks.
func (s *server) cpuTicks() int64 {
	var t int64
	for _, p := range s.pids() {
		t += procCPU(strconv.Itoa(p))
	}
	return t
}

// rssKB is VmRSS of the server's processes.
func (s *server) rssKB() int64 {
	var t int64
	for _, p := range s.pids() {
		t += procRSS(p)
	}
	return t
}

const clkTck = 100 // USER_HZ on Linux

func procCPU(pid string) int64 {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+2:]))
	// state is field 3; utime and stime are fields 14 and 15 (1-based).
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return u + st
}

// rssNoFileKB is the resident memory of the server's processes without
// file-backed pages (RssAnon + RssShmem): the binary's and libraries' code
// pages count in VmRSS by how much of the file the page cache had and the
// run touched, which is not memory a poll holds. Shared memory stays in
// (Nchan keeps its messages and subscribers in a shared zone).
func (s *server) rssNoFileKB() int64 {
	var t int64
	for _, p := range s.pids() {
		t += procStatus(p, "RssAnon:") + procStatus(p, "RssShmem:")
	}
	return t
}

func procRSS(pid int) int64 { return procStatus(pid, "VmRSS:") }

// procStatus is a kB field of /proc/PID/status (0 when missing).
func procStatus(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, field) {
			f := strings.Fields(l)
			if len(f) >= 2 {
				n, _ := strconv.ParseInt(f[1], 10, 64)
				return n
			}
		}
	}
	return 0
}

// machineBusy is the busy ticks of all CPUs (from /proc/stat).
func machineBusy() int64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line := string(b[:bytes.IndexByte(b, '\n')])
	f := strings.Fields(line)
	var busy int64
	for i, v := range f[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		// user nice system idle iowait irq softirq steal guest guest_nice;
		// idle and iowait are not busy, guest is already in user.
		if i == 3 || i == 4 || i >= 8 {
			continue
		}
		busy += n
	}
	return busy
}

// cpuWindow measures the server's, the generator's and everyone else's CPU
// over a span of time.
type cpuWindow struct {
	s                 *server
	t0                time.Time
	srv0, self0, all0 int64
	aux0              map[string]int64
}

// profSignals makes each measurement window send SIGUSR2 to pollchat at
// its start and end (bench/profile writes a CPU profile in between).
var profSignals bool

func (s *server) signal(sig syscall.Signal) {
	if profSignals && s.kind == "pollchat" {
		syscall.Kill(s.cmd.Process.Pid, sig)
	}
}

func startWindow(s *server) *cpuWindow {
	s.signal(syscall.SIGUSR2)
	w := &cpuWindow{s: s, t0: time.Now(), srv0: s.cpuTicks(), self0: procCPU("self"), all0: machineBusy()}
	if len(s.aux) > 0 {
		w.aux0 = map[string]int64{}
		for name, pid := range s.aux {
			w.aux0[name] = procCPU(strconv.Itoa(pid))
		}
	}
	return w
}

type cpuUse struct {
	Seconds   float64 `json:"seconds"`
	ServerS   float64 `json:"server_cpu_s"`
	LoadgenS  float64 `json:"loadgen_cpu_s"`
	OtherS    float64 `json:"other_cpu_s"`
	OtherPct  float64 `json:"other_cpu_pct"`  // of one core, averaged over the window
	ServerPct float64 `json:"server_cpu_pct"` // of one core
	// Aux is the CPU seconds of the processes measured apart (redis,
	// mariadb), not counted in OtherS.
	Aux map[string]float64 `json:"aux_cpu_s,omitempty"`
}

func (w *cpuWindow) end() cpuUse {
	defer w.s.signal(syscall.SIGUSR2)
	d := time.Since(w.t0).Seconds()
	srv := float64(w.s.cpuTicks()-w.srv0) / clkTck
	self := float64(procCPU("self")-w.self0) / clkTck
	all := float64(machineBusy()-w.all0) / clkTck
	var aux map[string]float64
	auxSum := 0.0
	for name, t0 := range w.aux0 {
		if aux == nil {
			aux = map[string]float64{}
		}
		aux[name] = float64(procCPU(strconv.Itoa(w.s.aux[name]))-t0) / clkTck
		auxSum += aux[name]
	}
	other := max(all-srv-self-auxSum, 0)
	return cpuUse{Seconds: d, ServerS: srv, LoadgenS: self, OtherS: other, OtherPct: 100 * other / d, ServerPct: 100 * srv / d, Aux: aux}
}

// auth is the legacy-hash identity of a user: id, timestamp, SHA1(id+ts+secret).
func auth(id string) string {
	ts := time.Now().UTC().Format("060102150405")
	h := sha1.Sum([]byte(id + ts + secret))
	return "id=" + id + "&timestamp=" + ts + "&hash=" + hex.EncodeToString(h[:])
}
