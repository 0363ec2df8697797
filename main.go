// Command pollchat is a chat and messenger server for legacy PHP sites,
// reached by JSONP long-polling. See README.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"
	"time"

	"pollchat/bridge"
	"pollchat/config"
)

// version and commit are set at build time by the Makefile
// (-ldflags "-X main.version=… -X main.commit=…"); without them the commit
// comes from the Go toolchain's VCS stamp.
var (
	version = "dev"
	commit  = ""
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// versionLine is what -version prints: version, commit (with "+dirty" for
// a build from a modified tree) and the Go version that built it.
func versionLine() string {
	c, dirty := commit, false
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if c == "" && len(s.Value) >= 12 {
					c = s.Value[:12]
				}
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	if c == "" {
		c = "unknown"
	} else if dirty && commit == "" {
		c += "+dirty"
	}
	return fmt.Sprintf("pollchat %s (commit %s, %s, %s/%s)", version, c, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "export":
			return runExport(args[1:])
		case "import":
			return runImport(args[1:])
		case "backup":
			return runBackup(args[1:])
		}
	}
	fs := flag.NewFlagSet("pollchat", flag.ContinueOnError)
	path := fs.String("config", "config.toml", "the configuration file")
	check := fs.Bool("check", false, "check the configuration, the store's directory and the user source, and exit")
	showVersion := fs.Bool("version", false, "print the version and commit, and exit")
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *showVersion {
		fmt.Fprintln(stdout, versionLine())
		return 0
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: logLevel()}))
	if *check {
		return checkConfig(cfg, *path, stdout)
	}
	a, err := start(cfg, log)
	if err != nil {
		log.Error("pollchat: cannot start", "err", cfg.RedactError(err))
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

// checkConfig checks what Load cannot: that the embedded store's directory
// is usable and that the user source answers. Every message is redacted.
func checkConfig(cfg *config.Config, path string, out io.Writer) int {
	if err := config.CheckStore(cfg); err != nil {
		fmt.Fprintf(out, "config: %s: %s\n", path, cfg.Redact(err.Error()))
		return 1
	}
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
		fmt.Fprintf(out, "config: %s: ok, but users.source %q does not answer: %s\n", path, cfg.Users.Source, cfg.Redact(err.Error()))
		return 1
	}
	fmt.Fprintf(out, "config: %s: ok (store %s, users.source %q answers)\n", path, storeWhere(cfg), cfg.Users.Source)
	return 0
}

func storeWhere(cfg *config.Config) string {
	if cfg.Store.Driver == "embedded" {
		return "embedded in " + cfg.Store.Path
	}
	return cfg.Store.Driver
}
