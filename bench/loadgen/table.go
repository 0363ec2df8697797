package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// row is one line of the readable table: a metric of a scenario, with the
// issue's target where it sets one.
type row struct {
	scenario, metric, label string
	goal                    float64 // 0: no target
	lower                   bool    // lower is better (and the goal is a maximum)
}

var rows = []row{
	{"parked", "kb_per_poll", "parked: RSS per parked poll (KB)", 6, true},
	{"parked", "idle_cpu_pct", "parked: idle-cycling CPU, % of one core (measured)", 5, true},
	{"parked", "idle_cpu_pct_steady", "parked: idle-cycling CPU, % of one core (steady state)", 5, true},
	{"parked", "us_per_repoll", "parked: server CPU per re-poll (µs)", 0, true},
	{"parked", "setup_s", "parked: time to park all (s)", 0, true},
	{"fanout", "p50_ms", "fanout 20/s: latency p50 (ms)", 0, true},
	{"fanout", "p99_ms", "fanout 20/s: latency p99 (ms)", 40, true},
	{"fanout", "max_ms", "fanout 20/s: latency max (ms)", 0, true},
	{"fanout", "send_p99_ms", "fanout 20/s: send answered p99 (ms)", 0, true},
	{"fanout", "all_once_in_order", "fanout 20/s: every member all once, in order (1 = yes)", 0, false},
	{"fanout_saturated", "deliveries_per_s", "fanout 100/s: deliveries per second", 0, false},
	{"fanout_saturated", "us_per_delivery", "fanout 100/s: server CPU per delivery (µs)", 5, true},
	{"fanout_saturated", "p99_ms", "fanout 100/s: latency p99 (ms)", 0, true},
	{"fanout_saturated", "all_once_in_order", "fanout 100/s: every member all once, in order (1 = yes)", 0, false},
	{"direct", "p50_ms", "direct: latency p50 (ms)", 0, true},
	{"direct", "p99_ms", "direct: latency p99 (ms)", 5, true},
	{"direct", "send_p99_ms", "direct: send answered p99 (ms)", 0, true},
	{"direct", "us_per_msg", "direct: server CPU per message (µs)", 30, true},
	{"direct", "lost", "direct: messages lost", 0, true},
	{"direct", "rate_achieved", "direct: messages per second sent", 0, false},
	{"durable_c1", "sends_per_s", "durable sends/s, 1 sender", 0, false},
	{"durable_c16", "sends_per_s", "durable sends/s, 16 senders", 0, false},
	{"durable_c256", "sends_per_s", "durable sends/s, 256 senders", 10000, false},
	{"durable_c256", "p99_ms", "durable send p99 at 256 senders (ms)", 0, true},
	{"durable_c256", "us_per_send", "durable: server CPU per send at 256 senders (µs)", 0, true},
	{"durable_mysql_c1", "sends_per_s", "durable sends/s, MySQL store, 1 sender", 0, false},
	{"durable_mysql_c16", "sends_per_s", "durable sends/s, MySQL store, 16 senders", 0, false},
	{"durable_mysql_c256", "sends_per_s", "durable sends/s, MySQL store, 256 senders", 0, false},
	{"durable_mysql_c256", "us_per_send", "durable: pollchat+MariaDB CPU per send at 256 senders (µs)", 0, true},
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func printTable(w io.Writer, o *options, all []result) {
	vals := map[string][]float64{} // scenario|target|metric
	other := map[string][]float64{}
	for _, r := range all {
		for k, v := range r.Metrics {
			key := r.Scenario + "|" + r.Target + "|" + k
			vals[key] = append(vals[key], v)
		}
		other[r.Scenario+"|"+r.Target] = append(other[r.Scenario+"|"+r.Target], r.CPU.OtherPct)
	}
	get := func(sc, tk, m string) (float64, bool) {
		v, ok := vals[sc+"|"+tk+"|"+m]
		if !ok {
			return 0, false
		}
		return median(v), true
	}
	fmt.Fprintf(w, "\nMedians of %d run(s); parked %d, room %d members, direct %d users at %.0f/s.\n\n", o.runs, o.parked, o.members, o.directUsers, o.directRate)
	fmt.Fprintln(w, "| metric | pollchat | Nchan | pollchat/Nchan | target | met |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---|---|")
	for _, r := range rows {
		p, okP := get(r.scenario, "pollchat", r.metric)
		n, okN := get(r.scenario, "nchan", r.metric)
		if !okP && !okN {
			continue
		}
		cell := func(v float64, ok bool) string {
			if !ok {
				return "–"
			}
			return num(v)
		}
		ratio := "–"
		if okP && okN && n != 0 {
			ratio = fmt.Sprintf("%.2f", p/n)
		}
		goal, met := "", ""
		if r.goal != 0 {
			if r.lower {
				goal = "≤ " + num(r.goal)
			} else {
				goal = "≥ " + num(r.goal)
			}
			if okP {
				if (r.lower && p <= r.goal) || (!r.lower && p >= r.goal) {
					met = "yes"
				} else {
					met = "no"
				}
			}
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", r.label, cell(p, okP), cell(n, okN), ratio, goal, met)
	}
	var keys []string
	for k := range other {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %.0f%%", strings.Replace(k, "|", "/", 1), median(other[k])))
	}
	fmt.Fprintf(w, "\nCPU of other processes during each measurement (median, %% of one core): %s\n", strings.Join(parts, ", "))
}

func num(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v >= 1000 || v <= -1000:
		return fmt.Sprintf("%.0f", v)
	case v >= 100:
		return fmt.Sprintf("%.1f", v)
	case v >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}
