//go:build profile

// Command profile is pollchat wired as app.go wires it (the configured
// store, embedded or MySQL; the users source; the Redis engine when
// cluster.redis_url is set), with Go profiles on signals, so the load
// generator's scenarios, the cluster ones too, can be profiled without
// touching main.go:
//
//	go build -tags profile -o bin/pollchat-prof ./bench/profile
//	POLLCHAT_PROF_DIR=/tmp/prof bin/loadgen -pollchat bin/pollchat-prof -prof ...
//
// SIGUSR1 writes a heap profile (after a GC) and the goroutines' stacks
// (goroutine-N.txt), SIGUSR2 starts a CPU profile and the next SIGUSR2
// stops it; files are numbered in $POLLCHAT_PROF_DIR.
// POLLCHAT_MEMPROFILERATE=2048 samples the heap finer;
// POLLCHAT_PROF_SETUP=1 profiles the CPU from the start to the first
// SIGUSR1 (a parked scenario's set-up). It is behind a
// build tag because it follows app.go's wiring by hand.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"syscall"
	"time"

	"pollchat/bridge"
	"pollchat/chat"
	"pollchat/cluster"
	"pollchat/config"
	"pollchat/server"
	"pollchat/store"
)

func main() {
	path := flag.String("config", "config.toml", "the configuration file")
	flag.Parse()
	// POLLCHAT_MEMPROFILERATE: bytes per heap sample (runtime.MemProfileRate;
	// the default 512 KiB misses most small objects).
	if v, err := strconv.Atoi(os.Getenv("POLLCHAT_MEMPROFILERATE")); err == nil && v > 0 {
		runtime.MemProfileRate = v
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	var st store.Store
	if cfg.Store.Driver == "mysql" {
		st, err = store.OpenMySQL(ctx, cfg.Store.DSN, cfg.Store.TablePrefix, store.MySQLOptions{})
	} else {
		st, err = store.OpenEmbeddedWith(cfg.Store.Path, store.EmbeddedOptions{Engine: cfg.Store.Engine})
	}
	must(err)
	src, err := bridge.NewSource(cfg.Users)
	must(err)
	dcfg := bridge.DirectoryConfigFor(cfg.Users)
	dcfg.Log = log
	dir := bridge.NewDirectory(src, dcfg)
	verifier, err := bridge.NewVerifier(cfg.Auth)
	must(err)
	var engine chat.Engine // nil: the memory engine, one process
	var rd *cluster.Redis
	if cfg.Cluster.RedisURL != "" {
		rd, err = cluster.Open(ctx, cfg.Cluster.RedisURL, cluster.Options{
			MaxLen: int64(cfg.Chat.Buffer), Grace: cfg.Presence.Grace.Duration, PollMax: cfg.Server.PollMax.Duration, Log: log})
		must(err)
		engine = rd
	}
	cancel()
	svc, err := chat.New(chat.Config{
		Engine: engine, Rooms: cfg.Chat.Rooms, AutoJoin: cfg.Chat.AutoJoinRoom(),
		MaxLength: cfg.Chat.MaxLength, History: cfg.Chat.History,
		Rate: cfg.Chat.RateLimit(), Burst: cfg.Chat.Burst, Buffer: cfg.Chat.Buffer,
		RoomEventsLimit: cfg.Chat.RoomEventsLimit, Grace: cfg.Presence.Grace.Duration,
		BannedWords:  cfg.Chat.BannedWords,
		RequireKnown: cfg.Users.Source != "static" && !cfg.Users.AllowUnknown, Log: log,
	}, st, dir)
	must(err)
	srv, err := server.New(cfg, svc, svc, verifier, log)
	must(err)
	srv.SetDirectory(dir)
	// As app.go's releaseStartGarbage: the assets' compression garbage
	// is not the baseline the parked scenarios measure from.
	runtime.GC()
	debug.FreeOSMemory()
	ln, err := net.Listen("tcp", cfg.Server.Listen)
	must(err)
	go srv.Serve(ln)

	out := os.Getenv("POLLCHAT_PROF_DIR")
	if out == "" {
		out = "."
	}
	// Made here: a directory that is not there would fail the first
	// profile, at the first signal, in the middle of a measurement.
	must(os.MkdirAll(out, 0o755))
	sig := make(chan os.Signal, 4)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT, syscall.SIGUSR1, syscall.SIGUSR2)
	var cpu *os.File
	n := 0
	// POLLCHAT_PROF_SETUP: a CPU profile from the start to the first
	// signal (cpu-setup.pprof): a parked scenario's set-up.
	var setup *os.File
	if os.Getenv("POLLCHAT_PROF_SETUP") != "" {
		setup, err = os.Create(filepath.Join(out, "cpu-setup.pprof"))
		must(err)
		must(pprof.StartCPUProfile(setup))
	}
	for s := range sig {
		switch s {
		case syscall.SIGUSR1:
			if setup != nil {
				pprof.StopCPUProfile()
				setup.Close()
				setup = nil
			}
			n++
			// The memory as the loadgen's RSS reading found it (before
			// the GC the heap profile needs), then after that GC.
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			line := memLine("before GC", &ms)
			runtime.GC()
			f, err := os.Create(filepath.Join(out, fmt.Sprintf("heap-%d.pprof", n)))
			must(err)
			must(pprof.WriteHeapProfile(f))
			f.Close()
			// The goroutines too: idle workers' stacks are part of a
			// parked poll's RSS.
			f, err = os.Create(filepath.Join(out, fmt.Sprintf("goroutine-%d.txt", n)))
			must(err)
			must(pprof.Lookup("goroutine").WriteTo(f, 1))
			f.Close()
			runtime.ReadMemStats(&ms)
			line = fmt.Sprintf("profile: heap-%d: goroutines %d\n%s%s", n, runtime.NumGoroutine(), line, memLine("after GC", &ms))
			// On stderr and beside the profiles: the loadgen removes the
			// server's directory, its log with it.
			fmt.Fprint(os.Stderr, line)
			must(os.WriteFile(filepath.Join(out, fmt.Sprintf("memstats-%d.txt", n)), []byte(line), 0o644))
		case syscall.SIGUSR2:
			if setup != nil {
				pprof.StopCPUProfile()
				setup.Close()
				setup = nil
			}
			if cpu == nil {
				n++
				cpu, err = os.Create(filepath.Join(out, fmt.Sprintf("cpu-%d.pprof", n)))
				must(err)
				must(pprof.StartCPUProfile(cpu))
			} else {
				pprof.StopCPUProfile()
				cpu.Close()
				cpu = nil
			}
		default:
			if cpu != nil {
				pprof.StopCPUProfile()
				cpu.Close()
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			srv.Shutdown(ctx)
			cancel()
			svc.Close()
			if rd != nil {
				rd.Close()
			}
			st.Close()
			return
		}
	}
}

// memLine is one line of what ms says of the memory a process holds.
func memLine(when string, ms *runtime.MemStats) string {
	return fmt.Sprintf("  %s: heap live %d KB, heap in use %d KB (objects %d), heap idle %d KB (released %d KB), stacks %d KB, other sys %d KB, total sys %d KB, GCs %d, allocated so far %d MB\n",
		when, ms.HeapAlloc>>10, ms.HeapInuse>>10, ms.HeapObjects, ms.HeapIdle>>10, ms.HeapReleased>>10, ms.StackInuse>>10,
		(ms.MSpanSys+ms.MCacheSys+ms.BuckHashSys+ms.GCSys+ms.OtherSys)>>10, ms.Sys>>10, ms.NumGC, ms.TotalAlloc>>20)
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "profile:", err)
		os.Exit(1)
	}
}
