//go:build profile

// Command profile is pollchat wired as main.go wires it (embedded store,
// static users, one process), with Go profiles on signals, so the load
// generator's scenarios can be profiled without touching main.go:
//
//	go build -tags profile -o bin/pollchat-prof ./bench/profile
//	POLLCHAT_PROF_DIR=/tmp/prof bin/loadgen -pollchat bin/pollchat-prof -prof ...
//
// SIGUSR1 writes a heap profile (after a GC), SIGUSR2 starts a CPU profile
// and the next SIGUSR2 stops it; files are numbered in $POLLCHAT_PROF_DIR.
// It is behind a build tag because it follows main.go's wiring by hand.
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
	"runtime/pprof"
	"syscall"
	"time"

	"pollchat/bridge"
	"pollchat/chat"
	"pollchat/config"
	"pollchat/server"
	"pollchat/store"
)

func main() {
	path := flag.String("config", "config.toml", "the configuration file")
	flag.Parse()
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	st, err := store.OpenEmbedded(cfg.Store.Path)
	must(err)
	src, err := bridge.NewSource(cfg.Users)
	must(err)
	dcfg := bridge.DirectoryConfigFor(cfg.Users)
	dcfg.Log = log
	dir := bridge.NewDirectory(src, dcfg)
	verifier, err := bridge.NewVerifier(cfg.Auth)
	must(err)
	svc, err := chat.New(chat.Config{
		Rooms: cfg.Chat.Rooms, MaxLength: cfg.Chat.MaxLength, History: cfg.Chat.History,
		Rate: cfg.Chat.RateLimit(), Burst: cfg.Chat.Burst, Buffer: cfg.Chat.Buffer,
		RoomEventsLimit: cfg.Chat.RoomEventsLimit, Grace: cfg.Presence.Grace.Duration, Log: log,
	}, st, dir)
	must(err)
	srv, err := server.New(cfg, svc, dir, verifier, log)
	must(err)
	ln, err := net.Listen("tcp", cfg.Server.Listen)
	must(err)
	go srv.Serve(ln)

	out := os.Getenv("POLLCHAT_PROF_DIR")
	if out == "" {
		out = "."
	}
	sig := make(chan os.Signal, 4)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT, syscall.SIGUSR1, syscall.SIGUSR2)
	var cpu *os.File
	n := 0
	for s := range sig {
		switch s {
		case syscall.SIGUSR1:
			n++
			runtime.GC()
			f, err := os.Create(filepath.Join(out, fmt.Sprintf("heap-%d.pprof", n)))
			must(err)
			must(pprof.WriteHeapProfile(f))
			f.Close()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			fmt.Fprintf(os.Stderr, "profile: heap-%d: goroutines %d, heap in use %d KB (objects %d), heap idle %d KB (released %d KB), stacks %d KB, other sys %d KB, total sys %d KB\n",
				n, runtime.NumGoroutine(), ms.HeapInuse>>10, ms.HeapObjects, ms.HeapIdle>>10, ms.HeapReleased>>10, ms.StackInuse>>10,
				(ms.MSpanSys+ms.MCacheSys+ms.BuckHashSys+ms.GCSys+ms.OtherSys)>>10, ms.Sys>>10)
		case syscall.SIGUSR2:
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
			st.Close()
			return
		}
	}
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "profile:", err)
		os.Exit(1)
	}
}
