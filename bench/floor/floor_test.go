//go:build linux

package main

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
)

// The command runs as documented, in both modes, and its figures add up:
// some CPU per cycle, 2-3 system calls per cycle (a write, a read, a share
// of epoll_wait; one at a time a wait each), and round times.
func TestFloorRuns(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "floor")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cycle := regexp.MustCompile(`server CPU per cycle \(write \+ read \+ shared epoll_wait\): ([0-9.]+) µs \(system [0-9.]+ µs\), ([0-9.]+) system calls`)
	round := regexp.MustCompile(`a whole round \(and every request back\): p50 ([0-9.]+) ms, p99 ([0-9.]+) ms`)
	for _, tc := range []struct {
		args       []string
		minCalls   float64
		maxCalls   float64
		serialMode string
	}{
		{[]string{"-conns", "50", "-rounds", "40"}, 2, 3.05, "serial false"},
		{[]string{"-conns", "100", "-rounds", "10", "-serial"}, 2.95, 3.05, "serial true"},
	} {
		out, err := exec.Command(bin, tc.args...).CombinedOutput()
		if err != nil {
			t.Fatalf("floor %v: %v\n%s", tc.args, err, out)
		}
		if !regexp.MustCompile(tc.serialMode).Match(out) {
			t.Errorf("floor %v: no %q in\n%s", tc.args, tc.serialMode, out)
		}
		m := cycle.FindSubmatch(out)
		if m == nil {
			t.Fatalf("floor %v: no CPU line in\n%s", tc.args, out)
		}
		us, _ := strconv.ParseFloat(string(m[1]), 64)
		calls, _ := strconv.ParseFloat(string(m[2]), 64)
		if us <= 0 || calls < tc.minCalls || calls > tc.maxCalls {
			t.Errorf("floor %v: %.1f µs and %.2f calls per cycle; want above 0 and %.2f-%.2f calls\n%s", tc.args, us, calls, tc.minCalls, tc.maxCalls, out)
		}
		r := round.FindSubmatch(out)
		if r == nil {
			t.Fatalf("floor %v: no round line in\n%s", tc.args, out)
		}
		p50, _ := strconv.ParseFloat(string(r[1]), 64)
		p99, _ := strconv.ParseFloat(string(r[2]), 64)
		if p50 <= 0 || p99 < p50 {
			t.Errorf("floor %v: round p50 %.1f ms, p99 %.1f ms; want 0 < p50 ≤ p99", tc.args, p50, p99)
		}
	}
}
