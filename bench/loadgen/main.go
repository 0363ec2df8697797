// Command loadgen drives pollchat and Nchan on 127.0.0.1 with the same
// long-poll scenarios and reports JSON lines and a side-by-side table.
//
// It starts each server itself (a fresh process per scenario, so memory
// and CPU figures belong to that scenario alone), raises its own open-file
// limit to the hard limit first (the servers inherit it), and spreads its
// connections over loopback source addresses 127.0.0.2, 127.0.0.3, … so
// that ephemeral ports do not run out.
//
//	go run ./bench/loadgen -pollchat bin/pollchat -nchan-conf bench/nchan.conf
//
// Scenarios (see docs/benchmarks.md): parked, fanout, direct, durable.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type options struct {
	pollchat, nginx, nchanConf string
	targets, scenarios         []string
	runs, srcAddrs             int
	jsonOut                    string

	parked      int
	idleWindow  time.Duration
	members     int
	fanMsgs     int
	fanRate     float64
	satMsgs     int
	satRate     float64
	directUsers int
	directRate  float64
	directDur   time.Duration
	senders     int
	durable     []int
	durableDur  time.Duration
	setupConc   int
	park        time.Duration
	spread      bool
	quietPct    float64
	quietWait   time.Duration
	retries     int
	maria       *mariadb

	clusterProcs   int
	clusterUsers   int
	clusterRate    float64
	clusterMembers int
	mdOut, commit  string
	baseline       time.Duration // direct: measure the idle processes this long first (cluster)
	cmdline        string
}

func main() {
	var o options
	var targets, scenarios, durable string
	flag.StringVar(&o.pollchat, "pollchat", "bin/pollchat", "the pollchat binary")
	flag.StringVar(&o.nginx, "nginx", "/usr/sbin/nginx", "nginx with the Nchan module (libnginx-mod-nchan)")
	flag.StringVar(&o.nchanConf, "nchan-conf", "bench/nchan.conf", "Nchan's nginx.conf template (@PREFIX@, @LISTEN@)")
	flag.StringVar(&targets, "targets", "pollchat,nchan", "servers to measure")
	flag.StringVar(&scenarios, "scenarios", "parked,fanout,direct,durable,durable-mysql,parked-cluster,cluster", "scenarios to run (durable-mysql, parked-cluster and cluster need Debian's mariadb-server; the cluster ones redis-server)")
	flag.IntVar(&o.runs, "runs", 3, "runs of each scenario (medians are reported)")
	flag.IntVar(&o.srcAddrs, "src-addrs", 16, "loopback source addresses 127.0.0.2… to spread connections over")
	flag.StringVar(&o.jsonOut, "json", "", "also write the JSON lines to this file")
	flag.StringVar(&o.mdOut, "md", "", "also write the table (markdown, with the commit and the machine) to this file")
	flag.StringVar(&o.commit, "commit", "", "the commit measured, for the table's heading")
	flag.IntVar(&o.clusterProcs, "cluster-procs", 3, "cluster: processes on Redis, compared with 1 process on the same load")
	flag.IntVar(&o.clusterUsers, "cluster-users", 3000, "cluster: parked users for direct messages, spread over the processes")
	flag.Float64Var(&o.clusterRate, "cluster-rate", 1000, "cluster: direct messages per second (durable in MySQL)")
	flag.IntVar(&o.clusterMembers, "cluster-members", 1000, "cluster: room members, spread over the processes")
	flag.IntVar(&o.parked, "parked", 15000, "parked: concurrent parked polls")
	flag.DurationVar(&o.idleWindow, "idle-window", 50*time.Second, "parked: how long to measure idle cycling (best a multiple of -park)")
	flag.IntVar(&o.members, "members", 2000, "fanout: room members")
	flag.IntVar(&o.fanMsgs, "fanout-msgs", 200, "fanout: messages")
	flag.Float64Var(&o.fanRate, "fanout-rate", 20, "fanout: messages per second")
	flag.IntVar(&o.satMsgs, "sat-msgs", 100, "fanout saturated: messages")
	flag.Float64Var(&o.satRate, "sat-rate", 100, "fanout saturated: messages per second")
	flag.IntVar(&o.directUsers, "direct-users", 5000, "direct: parked users")
	flag.Float64Var(&o.directRate, "direct-rate", 2000, "direct: messages per second")
	flag.DurationVar(&o.directDur, "direct-duration", 10*time.Second, "direct: how long to send")
	flag.IntVar(&o.senders, "senders", 64, "direct: sending connections")
	flag.StringVar(&durable, "durable", "1,16,256", "durable: concurrent senders (pollchat only)")
	flag.DurationVar(&o.durableDur, "durable-duration", 5*time.Second, "durable: how long each concurrency sends")
	flag.DurationVar(&o.park, "park", 25*time.Second, "how long a poll parks (pollchat: the timeout param; Nchan: nchan_subscriber_timeout)")
	flag.BoolVar(&o.spread, "spread", true, "parked: each user arrives (hello, then the first poll) at a random moment within -park, at most -setup-conc hellos at a time, as browsers arrive (otherwise timeouts fire in the bursts the set-up made)")
	flag.Float64Var(&o.quietPct, "quiet", 25, "a measurement is quiet when other processes use at most this % of one core")
	flag.DurationVar(&o.quietWait, "quiet-wait", 60*time.Second, "before each scenario, wait up to this long for a quiet machine")
	flag.IntVar(&o.retries, "retries", 1, "repeat a scenario measured on a noisy machine up to this many times (the quietest is kept)")
	flag.BoolVar(&lobby, "lobby", false, "pollchat: every user joins the room \"bench\" on hello (chat.auto_join, a site's lobby); off: each user has only their own stream, as each Nchan subscriber its own channel")
	flag.StringVar(&pollchatEnv, "pollchat-env", "", "extra environment for pollchat, comma-separated (GOMAXPROCS=1,GOGC=50)")
	flag.BoolVar(&profSignals, "prof", false, "signal pollchat to write profiles (a bench/profile build): CPU during each measurement, heap while parked")
	flag.IntVar(&o.setupConc, "setup-conc", 128, "connections opened at once while setting up")
	flag.Parse()
	o.cmdline = strings.Join(os.Args[1:], " ")
	// Servers run in their own directories: a relative path would not be found.
	for _, p := range []*string{&o.pollchat, &o.nchanConf} {
		if a, err := filepath.Abs(*p); err == nil {
			*p = a
		}
	}
	o.targets = strings.Split(targets, ",")
	o.scenarios = strings.Split(scenarios, ",")
	for _, f := range strings.Split(durable, ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(f)); err == nil && n > 0 {
			o.durable = append(o.durable, n)
		}
	}
	if err := raiseNofile(); err != nil {
		fatalf("loadgen: raise RLIMIT_NOFILE: %v", err)
	}
	initSrcAddrs(o.srcAddrs)
	if err := run(&o); err != nil {
		fatalf("loadgen: %v", err)
	}
}

func fatalf(f string, a ...any) {
	fmt.Fprintf(os.Stderr, f+"\n", a...)
	os.Exit(1)
}

func logf(f string, a ...any) {
	fmt.Fprintf(os.Stderr, time.Now().UTC().Format("15:04:05 ")+f+"\n", a...)
}

// raiseNofile lifts the soft open-file limit to the hard limit; the
// servers started from here inherit it.
func raiseNofile() error {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return err
	}
	l.Cur = l.Max
	return syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
}

// result is one JSON line: one scenario against one server in one run.
type result struct {
	Scenario string             `json:"scenario"`
	Target   string             `json:"target"`
	Run      int                `json:"run"`
	Time     string             `json:"time"`
	Metrics  map[string]float64 `json:"metrics"`
	CPU      cpuUse             `json:"cpu"`
	Notes    []string           `json:"notes,omitempty"`
}

func run(o *options) error {
	var out io.Writer = os.Stdout
	var jf *os.File
	if o.jsonOut != "" {
		f, err := os.Create(o.jsonOut)
		if err != nil {
			return err
		}
		jf = f
		defer f.Close()
	}
	for _, t := range o.targets {
		switch t {
		case "pollchat":
			if _, err := os.Stat(o.pollchat); err != nil {
				return fmt.Errorf("pollchat binary: %w (make build)", err)
			}
		case "nchan":
			if _, err := exec.LookPath(o.nginx); err != nil {
				return fmt.Errorf("nginx: %w (apt-get install nginx libnginx-mod-nchan)", err)
			}
		default:
			return fmt.Errorf("unknown target %q", t)
		}
	}
	var all []result
	fails := 0
	emit := func(r result) {
		r.Time = time.Now().UTC().Format(time.RFC3339)
		b, _ := json.Marshal(r)
		fmt.Fprintln(out, string(b))
		if jf != nil {
			jf.Write(append(b, '\n'))
		}
		all = append(all, r)
	}
	for run := 1; run <= o.runs; run++ {
		for _, sc := range o.scenarios {
			order := append([]string(nil), o.targets...)
			if run%2 == 0 { // alternate who goes first
				for i, j := 0, len(order)-1; i < j; i, j = i+1, j-1 {
					order[i], order[j] = order[j], order[i]
				}
			}
			for _, tk := range order {
				if pollchatOnly(sc) && tk != "pollchat" {
					continue // Nchan keeps messages in memory only and has no cluster
				}
				if needsMariaDB(sc) && !haveMariaDB() {
					logf("%s: %s is missing (Debian mariadb-server); skipped", sc, mariadbd)
					continue
				}
				if strings.Contains(sc, "cluster") && !haveRedis() {
					logf("%s: %s is missing (Debian redis-server); skipped", sc, redisBin)
					continue
				}
				var rs []result
				for try := 0; try <= o.retries; try++ {
					waitQuiet(o)
					logf("run %d: %s against %s", run, sc, tk)
					got, err := runScenario(o, sc, tk, run)
					if err != nil {
						// A failed scenario is a failed row of the table;
						// the other scenarios still run. A retry may
						// replace it, a failure never replaces a figure.
						logf("run %d, %s against %s failed: %v", run, sc, tk, err)
						if rs == nil {
							rs = []result{failedResult(sc, tk, err)}
						}
						continue
					}
					if rs == nil || failed(rs) || noise(got) < noise(rs) {
						rs = got
					}
					if noise(rs) <= o.quietPct {
						break
					}
					logf("other processes used %.0f%% of a core during the measurement", noise(got))
				}
				if failed(rs) {
					fails++
				}
				for _, r := range rs {
					r.Run = run
					emit(r)
				}
			}
		}
	}
	o.maria.stop()
	printTable(os.Stdout, o, all)
	if o.mdOut != "" {
		f, err := os.Create(o.mdOut)
		if err != nil {
			return err
		}
		defer f.Close()
		printHeading(f, o, all)
		printTable(f, o, all)
	}
	if fails > 0 {
		return fmt.Errorf("%d scenario run(s) failed (the table's failed rows say why)", fails)
	}
	return nil
}

// failedResult is the row of a scenario run that failed: no figures, the
// error in its notes.
func failedResult(sc, tk string, err error) result {
	return result{Scenario: strings.ReplaceAll(sc, "-", "_"), Target: tk,
		Metrics: map[string]float64{"failed": 1}, Notes: []string{"failed: " + err.Error()}}
}

// failed says whether rs is a failed scenario run.
func failed(rs []result) bool { return len(rs) == 1 && rs[0].Metrics["failed"] == 1 }

// pollchatOnly scenarios have no Nchan counterpart.
func pollchatOnly(sc string) bool {
	return strings.HasPrefix(sc, "durable") || strings.Contains(sc, "cluster")
}

func needsMariaDB(sc string) bool {
	return sc == "durable-mysql" || strings.Contains(sc, "cluster")
}

// mysqlDSN starts the private MariaDB once and makes a fresh database.
func (o *options) mysqlDSN() (string, error) {
	if o.maria == nil {
		m, err := startMariaDB()
		if err != nil {
			return "", err
		}
		o.maria = m
	}
	return o.maria.newDatabase()
}

// noise is the most CPU other processes used during any of rs.
func noise(rs []result) float64 {
	n := 0.0
	for _, r := range rs {
		n = max(n, r.CPU.OtherPct)
	}
	return n
}

// waitQuiet waits (up to -quiet-wait) until other processes use at most
// -quiet % of a core over a second.
func waitQuiet(o *options) {
	deadline := time.Now().Add(o.quietWait)
	for {
		self0, all0, t0 := procCPU("self"), machineBusy(), time.Now()
		time.Sleep(time.Second)
		other := float64(machineBusy()-all0-(procCPU("self")-self0)) / clkTck / time.Since(t0).Seconds() * 100
		if other <= o.quietPct || time.Now().After(deadline) {
			if other > o.quietPct {
				logf("machine still busy (others %.0f%% of a core); measuring anyway", other)
			}
			return
		}
	}
}

func runScenario(o *options, sc, tk string, run int) ([]result, error) {
	var s *server
	var err error
	switch {
	case sc == "cluster":
		return clusterScale(o, run)
	case sc == "parked-cluster":
		s, stop, err := startCluster(o, 1, true)
		if err != nil {
			return nil, err
		}
		defer stop()
		rs, err := parked(o, &target{kind: tk, srv: s, park: o.park, addrs: s.addrs()})
		for i := range rs {
			rs[i].Scenario = "parked_cluster"
		}
		return rs, err
	case sc == "durable-mysql":
		dsn, err := o.mysqlDSN()
		if err != nil {
			return nil, err
		}
		if s, err = startPollchat(o.pollchat, dsn, ""); err != nil {
			return nil, err
		}
		s.also = []int{o.maria.cmd.Process.Pid}
	case tk == "pollchat":
		s, err = startPollchat(o.pollchat, "", "")
	default:
		s, err = startNchan(o.nginx, o.nchanConf, o.park)
	}
	if err != nil {
		return nil, err
	}
	defer s.stop()
	t := &target{kind: tk, srv: s, park: o.park, addrs: s.addrs()}
	switch sc {
	case "parked":
		return parked(o, t)
	case "fanout":
		rs, err := fanout(o, t)
		machineShares(rs)
		return rs, err
	case "direct":
		rs, err := direct(o, t)
		machineShares(rs)
		return rs, err
	case "durable":
		return durableSends(o, t, "durable")
	case "durable-mysql":
		return durableSends(o, t, "durable_mysql")
	}
	return nil, fmt.Errorf("unknown scenario %q", sc)
}

// machineShares adds the measurement window's CPU shares (% of one core)
// of the server and of the load generator itself: both share the machine,
// so a latency line next to a server+loadgen total near 100% per core is
// queueing for a core rather than the server's own path.
func machineShares(rs []result) {
	for _, r := range rs {
		if r.Metrics == nil || r.CPU.Seconds <= 0 {
			continue
		}
		r.Metrics["server_cpu_pct"] = r.CPU.ServerPct
		r.Metrics["loadgen_cpu_pct"] = 100 * r.CPU.LoadgenS / r.CPU.Seconds
	}
}

// fleet is a set of subscribers polling in their own goroutines.
type fleet struct {
	t     *target
	subs  []*sub
	stop  atomic.Bool
	wg    sync.WaitGroup
	total atomic.Int64 // messages seen
	// answers counts the poll answers that carried messages: deliveries
	// per answer tell a server that batches from one that answers each
	// message alone, and CPU per answer is the cost of one poll cycle.
	answers atomic.Int64
	last    atomic.Int64 // unix nanos of the newest message seen
	errs    atomic.Int64
	first   firstError
	spread  time.Duration
	// helloRetries counts hellos (opens) that failed and were tried again.
	helloRetries atomic.Int64
}

// Retrying, as the widget does: a hello or poll that fails (a 503 while
// the server or its broker is overloaded, a timeout) is tried again after
// a pause that doubles from retryFirst up to retryMax. A subscriber never
// gives up on its polls while the fleet runs (a browser does not either):
// before, one failed hello, or 21 failed polls in a row, lost the user for
// the rest of the scenario, and waitParked then failed the whole run.
const (
	retryFirst = 100 * time.Millisecond
	retryMax   = 5 * time.Second
	// openLimit bounds how long a subscriber keeps retrying its hello.
	openLimit = 60 * time.Second
)

func backoff(d time.Duration) time.Duration { return min(2*d, retryMax) }

// open opens s (hello, and the room's join), retrying a failure until
// openLimit has passed or the fleet stops; the last error is returned.
func (f *fleet) open(s *sub, room string) error {
	deadline := time.Now().Add(openLimit)
	pause := retryFirst
	for {
		err := f.t.open(s, room)
		if err == nil || f.stop.Load() || time.Now().Add(pause).After(deadline) {
			return err
		}
		f.helloRetries.Add(1)
		f.first.set(err)
		time.Sleep(pause)
		pause = backoff(pause)
	}
}

// openFleet makes n subscribers (users from base, or all on one channel
// when room is set), opens them with bounded concurrency and starts their
// poll loops, each at a random moment within spread from the start (0: at
// once).
func openFleet(o *options, t *target, n, base int, room string, spread time.Duration) (*fleet, error) {
	f := &fleet{t: t, subs: make([]*sub, n), spread: spread}
	for i := range f.subs {
		id := strconv.Itoa(base + i)
		ch := "u" + id
		if room != "" {
			ch = room
		}
		f.subs[i] = t.newSub(i, id, ch)
	}
	sem := make(chan struct{}, o.setupConc)
	var firstErr firstError
	var wg sync.WaitGroup
	start := time.Now()
	for _, s := range f.subs {
		if spread > 0 {
			// A user who arrives at a random moment within spread: hello,
			// then the first poll at once. At most -setup-conc hellos are
			// in flight; a user whose moment comes while all are waits
			// for one to be answered. Without that bound, 15,000 users
			// over 25 s sent 600 hellos a second whatever the server's
			// pace; a cluster process (several Redis and MySQL calls per
			// hello) on a loaded machine fell behind, its calls timed out,
			// hellos were retried, and fewer and fewer parked. (Sending
			// every hello first and only spreading the first polls kept
			// a connection and a server goroutine idle between each
			// hello and its poll, up to 15,000 of them.)
			at := start.Add(rand.N(spread))
			f.wg.Add(1)
			go func(s *sub) {
				time.Sleep(time.Until(at))
				sem <- struct{}{}
				err := f.open(s, room)
				<-sem
				if err != nil {
					f.errs.Add(1)
					f.first.set(err)
					f.wg.Done()
					return
				}
				f.loop(s)
			}(s)
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(s *sub) {
			defer wg.Done()
			defer func() { <-sem }()
			if err := f.open(s, room); err != nil {
				firstErr.set(err)
				return
			}
			f.wg.Add(1)
			go f.loop(s)
		}(s)
	}
	wg.Wait()
	if e := firstErr.get(); e != nil {
		f.close()
		return nil, e
	}
	return f, nil
}

func (f *fleet) loop(s *sub) {
	defer f.wg.Done()
	var buf []msg
	pause := retryFirst
	for !f.stop.Load() {
		ms, err := f.t.poll(s, buf)
		buf = ms
		if err != nil {
			if f.stop.Load() {
				return
			}
			f.errs.Add(1)
			f.first.set(err)
			s.mu.Lock()
			s.errs++
			s.mu.Unlock()
			time.Sleep(pause)
			pause = backoff(pause)
			continue
		}
		pause = retryFirst
		now := time.Now().UnixNano()
		s.record(now, ms)
		if len(ms) > 0 {
			f.total.Add(int64(len(ms)))
			f.answers.Add(1)
			f.last.Store(now)
		}
	}
}

// close stops the loops and waits for them: closing each connection ends
// its parked request.
func (f *fleet) close() {
	f.stop.Store(true)
	for _, s := range f.subs {
		s.c.shut()
	}
	f.wait()
}

func (f *fleet) wait() {
	done := make(chan struct{})
	go func() { f.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		logf("warning: some subscribers did not stop")
	}
}

// waitParked waits until the server counts at least n parked subscribers.
func waitParked(t *target, n int, limit time.Duration) (int, error) {
	start := time.Now()
	deadline := start.Add(limit)
	next := start.Add(15 * time.Second)
	got := 0
	for time.Now().Before(deadline) {
		g, err := t.gauge()
		if err == nil {
			got = g
			if g >= n {
				return g, nil
			}
		}
		if time.Now().After(next) {
			logf("%d of %d subscribers parked after %s", got, n, time.Since(start).Round(time.Second))
			next = next.Add(15 * time.Second)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return got, fmt.Errorf("only %d of %d subscribers parked after %s", got, n, limit)
}

// ---- parked ----

func parked(o *options, t *target) ([]result, error) {
	time.Sleep(500 * time.Millisecond)
	rss0, anon0 := t.srv.rssKB(), t.srv.rssNoFileKB()
	g0, gErr := t.goroutines()
	setup := time.Now()
	spread := time.Duration(0)
	if o.spread {
		spread = o.park
	}
	f, err := openFleet(o, t, o.parked, 100000, "", spread)
	if err != nil {
		return nil, err
	}
	defer f.close()
	n, err := waitParked(t, o.parked, 120*time.Second+spread)
	if err != nil {
		return nil, err
	}
	setupS := time.Since(setup).Seconds()
	time.Sleep(2 * time.Second)
	rss1, anon1 := t.srv.rssKB(), t.srv.rssNoFileKB()
	g1, gErr1 := t.goroutines()
	if profSignals {
		t.srv.signal(syscall.SIGUSR1)
		time.Sleep(time.Second)
	}
	repolls0 := f.repolls()
	w := startWindow(t.srv)
	gMax, gEnd, gOK := sampleGoroutines(t, o.idleWindow)
	cpu := w.end()
	repolls := f.repolls() - repolls0
	m := map[string]float64{
		"parked":        float64(n),
		"rss_before_kb": float64(rss0),
		"rss_parked_kb": float64(rss1),
		"kb_per_poll":   float64(rss1-rss0) / float64(o.parked),
		// The same without file-backed pages (see rssNoFileKB).
		"kb_per_poll_nofile": float64(anon1-anon0) / float64(o.parked),
		"setup_s":            setupS,
		"repolls":            float64(repolls),
		"idle_cpu_pct":       cpu.ServerPct,
		"errors":             float64(f.errs.Load()),
		"hello_retries":      float64(f.helloRetries.Load()),
	}
	if gErr == nil && gErr1 == nil {
		// Goroutines the server holds per parked poll (0 when a park
		// holds none; background goroutines are there before and after).
		m["goroutines_parked"] = float64(g1)
		m["goroutines_per_poll"] = float64(g1-g0) / float64(o.parked)
		if gOK {
			// While idle cycling: the workers that answer timeouts and
			// read the re-polls come and go (idle ones end after a
			// while), so one sample after the set-up is not the steady
			// state.
			m["goroutines_per_poll_idle_max"] = float64(gMax-g0) / float64(o.parked)
			m["goroutines_per_poll_idle_end"] = float64(gEnd-g0) / float64(o.parked)
		}
	}
	addAux(m, cpu, "per_repoll", float64(repolls))
	if repolls > 0 {
		us := cpu.ServerS * 1e6 / float64(repolls)
		m["us_per_repoll"] = us
		// The steady state of o.parked users re-polling every -park.
		m["idle_cpu_pct_steady"] = 100 * us * float64(o.parked) / o.park.Seconds() / 1e6
	}
	return []result{{Scenario: "parked", Target: t.kind, Metrics: m, CPU: cpu, Notes: firstErr(f)}}, nil
}

// sampleGoroutines reads the server's goroutines every 5 s for d and
// returns the most seen and the last; ok is false when no read worked.
func sampleGoroutines(t *target, d time.Duration) (most, last int, ok bool) {
	end := time.Now().Add(d)
	for {
		time.Sleep(min(5*time.Second, time.Until(end)))
		if g, err := t.goroutines(); err == nil {
			most, last, ok = max(most, g), g, true
		}
		if !time.Now().Before(end) {
			return most, last, ok
		}
	}
}

func (f *fleet) repolls() int {
	n := 0
	for _, s := range f.subs {
		s.mu.Lock()
		n += s.repolls
		s.mu.Unlock()
	}
	return n
}

func firstErr(f *fleet) []string {
	if e := f.first.get(); e != nil {
		return []string{"first error: " + e.Error()}
	}
	return nil
}

// firstError keeps the first error reported to it, from any goroutine.
// (An atomic.Value would panic on the second error of another concrete
// type: CompareAndSwap checks the type before it compares.)
type firstError struct{ p atomic.Pointer[error] }

func (f *firstError) set(err error) { f.p.CompareAndSwap(nil, &err) }

// get returns the first error, or nil.
func (f *firstError) get() error {
	if e := f.p.Load(); e != nil {
		return *e
	}
	return nil
}

// ---- senders ----

type job struct {
	seq  int
	to   string
	room string
}

type sendStats struct {
	ok, errs atomic.Int64
	first    firstError
	mu       sync.Mutex
	lats     []int64
}

// pace sends jobs at rate per second over k connections (open loop: a job
// waits only when all k connections are busy) and returns when all are done.
func pace(t *target, k int, rate float64, jobs []job, senderBase int) (*sendStats, time.Duration) {
	st := &sendStats{}
	ch := make(chan job, len(jobs))
	var wg sync.WaitGroup
	for i := 0; i < k; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c := newClient(t.addr(i))
			defer c.Close()
			q := auth(strconv.Itoa(senderBase + i))
			var lats []int64
			for j := range ch {
				t0 := time.Now()
				if err := t.send(c, q, j.to, j.room, j.seq); err != nil {
					st.errs.Add(1)
					st.first.set(err)
					continue
				}
				st.ok.Add(1)
				lats = append(lats, int64(time.Since(t0)))
			}
			st.mu.Lock()
			st.lats = append(st.lats, lats...)
			st.mu.Unlock()
		}(i)
	}
	start := time.Now()
	interval := time.Duration(float64(time.Second) / rate)
	for i, j := range jobs {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		ch <- j
	}
	close(ch)
	wg.Wait()
	return st, time.Since(start)
}

// waitTotal waits until the fleet has seen want messages (or limit passes).
func waitTotal(f *fleet, want int64, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for f.total.Load() < want && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
}

// ---- fanout ----

func fanout(o *options, t *target) ([]result, error) {
	f, err := openFleet(o, t, o.members, 200000, "bench", 0)
	if err != nil {
		return nil, err
	}
	defer f.close()
	if _, err := waitParked(t, o.members, 120*time.Second); err != nil {
		return nil, err
	}
	time.Sleep(time.Second)

	// Joining overflows the first members' buffers with join events
	// (pollchat rooms up to 500 members announce joins), which resets
	// their cursors during setup: only resets from here on count.
	for _, s := range f.subs {
		s.mu.Lock()
		s.resets0 = s.resets
		s.mu.Unlock()
	}
	var out []result
	// Phase 1: the room at a chat's pace.
	jobs := make([]job, o.fanMsgs)
	for i := range jobs {
		jobs[i] = job{seq: i, room: "bench"}
	}
	answers0 := f.answers.Load()
	w := startWindow(t.srv)
	st, sendTime := pace(t, 4, o.fanRate, jobs, 900000)
	want := int64(o.members) * st.ok.Load()
	waitTotal(f, want, 20*time.Second)
	cpu := w.end()
	m, notes := fanoutCheck(f, 0, o.fanMsgs)
	perAnswer(m, cpu, f.total.Load(), f.answers.Load()-answers0)
	m["sent"] = float64(st.ok.Load())
	m["send_errors"] = float64(st.errs.Load())
	m["send_seconds"] = sendTime.Seconds()
	m["deliveries"] = float64(f.total.Load())
	addSendLatency(m, st)
	out = append(out, result{Scenario: "fanout", Target: t.kind, Metrics: m, CPU: cpu, Notes: append(notes, sendNotes(st)...)})

	// Phase 2: saturated.
	time.Sleep(2 * time.Second)
	base, answers0 := f.total.Load(), f.answers.Load()
	jobs = make([]job, o.satMsgs)
	for i := range jobs {
		jobs[i] = job{seq: o.fanMsgs + i, room: "bench"}
	}
	w = startWindow(t.srv)
	start := time.Now()
	st, sendTime = pace(t, 8, o.satRate, jobs, 900100)
	want = int64(o.members) * st.ok.Load()
	waitTotal(f, base+want, 30*time.Second)
	cpu = w.end()
	got := f.total.Load() - base
	span := time.Duration(f.last.Load() - start.UnixNano())
	m, notes = fanoutCheck(f, o.fanMsgs, o.satMsgs)
	perAnswer(m, cpu, got, f.answers.Load()-answers0)
	m["sent"] = float64(st.ok.Load())
	m["send_errors"] = float64(st.errs.Load())
	m["send_seconds"] = sendTime.Seconds()
	m["deliveries"] = float64(got)
	m["deliveries_per_s"] = float64(got) / span.Seconds()
	addSendLatency(m, st)
	if got > 0 {
		m["us_per_delivery"] = cpu.ServerS * 1e6 / float64(got)
	}
	addAux(m, cpu, "per_delivery", float64(got))
	out = append(out, result{Scenario: "fanout_saturated", Target: t.kind, Metrics: m, CPU: cpu, Notes: append(notes, sendNotes(st)...)})
	return out, nil
}

// perAnswer adds how many messages a poll answer carried on average and
// the server's CPU per answer (one poll cycle: the answer, the next poll).
func perAnswer(m map[string]float64, cpu cpuUse, deliveries, answers int64) {
	if answers <= 0 {
		return
	}
	m["answers"] = float64(answers)
	m["msgs_per_answer"] = float64(deliveries) / float64(answers)
	m["us_per_answer"] = cpu.ServerS * 1e6 / float64(answers)
}

// fanoutCheck checks that every member saw messages from..from+n-1 once
// each and in the same order (pollchat: by increasing message id too), and
// returns the latency figures of those messages.
func fanoutCheck(f *fleet, from, n int) (map[string]float64, []string) {
	var lats []int64
	var missing, dups, disorder, resets, badMembers int
	var idDisorder, disagree int // members who saw ids go down; members whose order differs from the first member's
	var ref []int32
	var notes []string
	for _, s := range f.subs {
		s.mu.Lock()
		seen := make([]int, n)
		var order []int32
		var lastID int64
		bad, idBad := false, false
		for i, q := range s.seqs {
			k := int(q) - from
			if k < 0 || k >= n {
				continue
			}
			seen[k]++
			order = append(order, q)
			lats = append(lats, s.lats[i])
			if s.ids[i] != 0 {
				if s.ids[i] <= lastID {
					disorder++
					bad, idBad = true, true
				}
				lastID = s.ids[i]
			}
		}
		resets += s.resets - s.resets0
		s.mu.Unlock()
		for _, c := range seen {
			if c == 0 {
				missing++
				bad = true
			} else if c > 1 {
				dups += c - 1
				bad = true
			}
		}
		if ref == nil {
			ref = order
		} else if !equal(ref, order) {
			disorder++
			disagree++
			bad = true
		}
		if bad {
			badMembers++
		}
		if idBad {
			idDisorder++
		}
	}
	if ref != nil {
		inSend := sort.SliceIsSorted(ref, func(i, j int) bool { return ref[i] < ref[j] })
		if !inSend {
			notes = append(notes, "members agree on an order that differs from the send order (several senders)")
		}
	}
	m := latencyMetrics(lats)
	m["missing"] = float64(missing)
	m["duplicates"] = float64(dups)
	m["out_of_order"] = float64(disorder)
	m["resets"] = float64(resets)
	m["members_wrong"] = float64(badMembers)
	m["members_ids_disorder"] = float64(idDisorder)
	m["members_order_disagree"] = float64(disagree)
	ok := 0.0
	if badMembers == 0 && resets == 0 {
		ok = 1
	}
	m["all_once_in_order"] = ok
	return m, notes
}

func equal(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func latencyMetrics(lats []int64) map[string]float64 {
	m := map[string]float64{}
	if len(lats) == 0 {
		return m
	}
	sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
	q := func(p float64) float64 {
		i := int(p * float64(len(lats)-1))
		return float64(lats[i]) / 1e6
	}
	m["p50_ms"] = q(0.50)
	m["p99_ms"] = q(0.99)
	m["max_ms"] = float64(lats[len(lats)-1]) / 1e6
	return m
}

// addSendLatency adds how long the sends took to be answered (for
// pollchat: stored durably and delivered to the streams).
func addSendLatency(m map[string]float64, st *sendStats) {
	sl := latencyMetrics(append([]int64(nil), st.lats...))
	m["send_p50_ms"], m["send_p99_ms"] = sl["p50_ms"], sl["p99_ms"]
}

func sendNotes(st *sendStats) []string {
	if e := st.first.get(); e != nil {
		return []string{"first send error: " + e.Error()}
	}
	return nil
}

// ---- direct ----

func direct(o *options, t *target) ([]result, error) {
	f, err := openFleet(o, t, o.directUsers, 300000, "", 0)
	if err != nil {
		return nil, err
	}
	defer f.close()
	if _, err := waitParked(t, o.directUsers, 120*time.Second); err != nil {
		return nil, err
	}
	time.Sleep(time.Second)
	n := int(o.directRate * o.directDur.Seconds())
	jobs := make([]job, n)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range jobs {
		jobs[i] = job{seq: i, to: f.subs[r.IntN(len(f.subs))].user}
		if t.kind != "pollchat" {
			jobs[i].to = "u" + jobs[i].to
		}
	}
	var idle cpuUse
	if o.baseline > 0 {
		// What the processes use with the users parked and nothing sent
		// (re-polls, presence, Redis housekeeping), to tell the marginal
		// cost of a delivery from the gross one.
		bw := startWindow(t.srv)
		time.Sleep(o.baseline)
		idle = bw.end()
	}
	w := startWindow(t.srv)
	start := time.Now()
	st, sendTime := pace(t, o.senders, o.directRate, jobs, 910000)
	waitTotal(f, st.ok.Load(), 10*time.Second)
	cpu := w.end()
	span := time.Duration(f.last.Load() - start.UnixNano())
	var lats []int64
	seen := make([]int, n)
	resets := 0
	for _, s := range f.subs {
		s.mu.Lock()
		for i, q := range s.seqs {
			if int(q) < n {
				seen[q]++
				lats = append(lats, s.lats[i])
			}
		}
		resets += s.resets
		s.mu.Unlock()
	}
	lost, dups := 0, 0
	for _, c := range seen {
		if c == 0 {
			lost++
		} else if c > 1 {
			dups += c - 1
		}
	}
	lost -= int(st.errs.Load()) // a failed send is reported as an error, not a loss
	m := latencyMetrics(lats)
	sent := st.ok.Load()
	m["sent"] = float64(sent)
	m["send_errors"] = float64(st.errs.Load())
	m["lost"] = float64(max(lost, 0))
	m["duplicates"] = float64(dups)
	m["resets"] = float64(resets)
	m["rate_achieved"] = float64(sent) / sendTime.Seconds()
	if sent > 0 {
		m["us_per_msg"] = cpu.ServerS * 1e6 / float64(sent)
	}
	if delivered := len(lats); delivered > 0 && span > 0 {
		m["deliveries"] = float64(delivered)
		m["deliveries_per_s"] = float64(delivered) / span.Seconds()
		addAux(m, cpu, "per_delivery", float64(delivered))
		if idle.Seconds > 0 {
			m["us_per_msg_marginal"] = max(cpu.ServerS-idle.ServerS*cpu.Seconds/idle.Seconds, 0) * 1e6 / float64(delivered)
			for name, s := range cpu.Aux {
				m[name+"_us_per_delivery_marginal"] = max(s-idle.Aux[name]*cpu.Seconds/idle.Seconds, 0) * 1e6 / float64(delivered)
			}
		}
	}
	addSendLatency(m, st)
	return []result{{Scenario: "direct", Target: t.kind, Metrics: m, CPU: cpu, Notes: append(firstErr(f), sendNotes(st)...)}}, nil
}

// ---- durable sends ----

func durableSends(o *options, t *target, name string) ([]result, error) {
	// The recipients are known users (hello) who are not polling.
	var targets []string
	for i := 0; i < 16; i++ {
		id := strconv.Itoa(400000 + i)
		c := newClient(t.srv.addr)
		r, err := c.get("/v1/hello?"+auth(id), nil, time.Now().Add(30*time.Second))
		c.Close()
		if err != nil {
			return nil, err
		}
		if r.status != 200 {
			return nil, fmt.Errorf("hello %d: %s", r.status, r.body)
		}
		targets = append(targets, id)
	}
	var out []result
	for _, conc := range o.durable {
		var ok, errs atomic.Int64
		var first firstError
		var mu sync.Mutex
		var lats []int64
		stop := time.Now().Add(o.durableDur)
		w := startWindow(t.srv)
		start := time.Now()
		var wg sync.WaitGroup
		for i := 0; i < conc; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				c := newClient(t.srv.addr)
				defer c.Close()
				q := auth(strconv.Itoa(500000 + i))
				var my []int64
				for seq := 0; time.Now().Before(stop); seq++ {
					t0 := time.Now()
					if err := t.send(c, q, targets[(i+seq)%len(targets)], "", seq); err != nil {
						errs.Add(1)
						first.set(err)
						time.Sleep(10 * time.Millisecond)
						continue
					}
					ok.Add(1)
					my = append(my, int64(time.Since(t0)))
				}
				mu.Lock()
				lats = append(lats, my...)
				mu.Unlock()
			}(i)
		}
		wg.Wait()
		el := time.Since(start)
		cpu := w.end()
		m := latencyMetrics(lats)
		m["concurrency"] = float64(conc)
		m["sends"] = float64(ok.Load())
		m["errors"] = float64(errs.Load())
		m["sends_per_s"] = float64(ok.Load()) / el.Seconds()
		if ok.Load() > 0 {
			m["us_per_send"] = cpu.ServerS * 1e6 / float64(ok.Load())
		}
		var notes []string
		if e := first.get(); e != nil {
			notes = append(notes, "first error: "+e.Error())
		}
		out = append(out, result{Scenario: fmt.Sprintf("%s_c%d", name, conc), Target: t.kind, Metrics: m, CPU: cpu, Notes: notes})
	}
	return out, nil
}
