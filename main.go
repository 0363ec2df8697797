// Command pollchat is a chat and messenger server for legacy PHP sites,
// reached by JSONP long-polling. See README.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"pollchat/bridge"
	"pollchat/config"
)

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	if len(args) > 0 {
		switch args[0] {
		case "export":
			return runExport(args[1:])
		case "import":
			return runImport(args[1:])
		}
	}
	fs := flag.NewFlagSet("pollchat", flag.ContinueOnError)
	path := fs.String("config", "config.toml", "the configuration file")
	check := fs.Bool("check", false, "check the configuration and exit")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel()}))
	if *check {
		return checkConfig(cfg, *path)
	}
	a, err := start(cfg, log)
	if err != nil {
		log.Error("pollchat: cannot start", "err", err)
		return 1
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case s := <-sig:
		log.Info("pollchat: shutting down", "signal", s.String())
	case err := <-a.served:
		log.Error("pollchat: server stopped", "err", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a.shutdown(ctx)
	log.Info("pollchat: stopped")
	return 0
}

func logLevel() slog.Level {
	if os.Getenv("POLLCHAT_DEBUG") != "" {
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

// checkConfig reports whether the user source answers as configured; the
// config itself was already validated by Load.
func checkConfig(cfg *config.Config, path string) int {
	src, err := bridge.NewSource(cfg.Users)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		err = bridge.CheckSource(ctx, src, 10*time.Second)
		cancel()
		if c, ok := src.(bridge.Closer); ok {
			c.Close()
		}
	}
	if err != nil {
		fmt.Printf("config: %s: ok, but users.source %q does not answer: %v\n", path, cfg.Users.Source, err)
		return 1
	}
	fmt.Printf("config: %s: ok (users.source %q answers)\n", path, cfg.Users.Source)
	return 0
}
