package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strings"
)

// row is one line of the readable table: a metric of a scenario, with the
// issue's target where it sets one (issue 21): an absolute goal, and/or
// "no worse than Nchan in the same runs".
type row struct {
	scenario, metric, label string
	goal                    float64
	hasGoal                 bool
	lower                   bool // lower is better (and the goal is a maximum)
	vsNchan                 bool // met only if pollchat is no worse than Nchan
	goalText                string
}

func info(sc, metric, label string, lower bool) row {
	return row{scenario: sc, metric: metric, label: label, lower: lower}
}

func atMost(sc, metric, label string, goal float64, vsNchan bool) row {
	return row{scenario: sc, metric: metric, label: label, goal: goal, hasGoal: true, lower: true, vsNchan: vsNchan}
}

func atLeast(sc, metric, label string, goal float64) row {
	return row{scenario: sc, metric: metric, label: label, goal: goal, hasGoal: true}
}

func notWorse(sc, metric, label string, lower bool) row {
	return row{scenario: sc, metric: metric, label: label, lower: lower, vsNchan: true}
}

// tableRows are the lines first, then the figures that explain
// them, then the cluster lines for -cluster-procs processes.
func tableRows(procs int) []row {
	rs := []row{
		atMost("parked", "idle_cpu_pct", "idle cycling: server CPU, % of one core", 3, true),
		notWorse("parked", "us_per_repoll", "idle cycling: server CPU per re-poll (µs)", true),
		notWorse("direct", "us_per_msg", "direct: server CPU per message (µs; pollchat durable, Nchan memory only)", true),
		atMost("direct", "p99_ms", "direct: latency p99 (ms)", 5, false),
		atMost("fanout", "p99_ms", "room fan-out 20 msg/s: latency p99 (ms)", 40, false),
		atMost("fanout_saturated", "us_per_delivery", "room fan-out saturated: server CPU per delivery (µs)", 3, false),
		atMost("parked", "kb_per_poll", "memory per parked poll (KB RSS)", 4, true),
		atMost("parked_cluster", "kb_per_poll", "cluster (Redis): memory per parked poll (KB RSS)", 4, false),
		{scenario: "parked_cluster", metric: "goroutines_per_poll", label: "cluster (Redis): goroutines per parked poll", goal: 0.1, hasGoal: true, lower: true, goalText: "none (≤ 0.1)"},
		info("durable_c1", "sends_per_s", "durable sends/s, 1 sender", false),
		info("durable_c16", "sends_per_s", "durable sends/s, 16 senders", false),
		atLeast("durable_c256", "sends_per_s", "durable sends/s, 256 senders", 13000),
		atMost("direct", "lost", "direct: messages lost", 0, false),
		atMost("direct", "duplicates", "direct: messages duplicated", 0, false),
		atLeast("fanout", "all_once_in_order", "room fan-out 20 msg/s: every member all once, in order (1 = yes)", 1),
		atLeast("fanout_saturated", "all_once_in_order", "room fan-out saturated: every member all once, in order (1 = yes)", 1),

		info("parked", "idle_cpu_pct_steady", "idle cycling: steady-state CPU from µs per re-poll, % of one core", true),
		info("parked", "kb_per_poll_nofile", "memory per parked poll without file-backed pages (KB, RssAnon+RssShmem)", true),
		info("parked_cluster", "kb_per_poll_nofile", "cluster (Redis): memory per parked poll without file-backed pages (KB)", true),
		info("parked", "setup_s", "parked: time to park all (s)", true),
		info("parked", "goroutines_per_poll", "parked: goroutines per parked poll", true),
		info("direct", "p50_ms", "direct: latency p50 (ms)", true),
		info("direct", "send_p99_ms", "direct: send answered p99 (ms)", true),
		info("direct", "rate_achieved", "direct: messages per second sent", false),
		info("fanout", "p50_ms", "room fan-out 20 msg/s: latency p50 (ms)", true),
		info("fanout", "send_p99_ms", "room fan-out 20 msg/s: send answered p99 (ms)", true),
		info("fanout", "send_p50_ms", "room fan-out 20 msg/s: send answered p50 (ms)", true),
		info("fanout", "server_cpu_pct", "room fan-out 20 msg/s: server CPU, % of one core", true),
		info("fanout", "loadgen_cpu_pct", "room fan-out 20 msg/s: load generator CPU, % of one core (same 2 cores)", true),
		info("fanout", "us_per_answer", "room fan-out 20 msg/s: server CPU per poll answer (µs)", true),
		info("fanout", "msgs_per_answer", "room fan-out 20 msg/s: messages per poll answer", false),
		info("fanout_saturated", "us_per_answer", "room fan-out saturated: server CPU per poll answer (µs)", true),
		info("fanout_saturated", "msgs_per_answer", "room fan-out saturated: messages per poll answer", false),
		info("direct", "server_cpu_pct", "direct: server CPU, % of one core", true),
		info("direct", "loadgen_cpu_pct", "direct: load generator CPU, % of one core", true),
		info("fanout_saturated", "deliveries_per_s", "room fan-out saturated: deliveries per second", false),
		info("fanout_saturated", "p99_ms", "room fan-out saturated: latency p99 (ms)", true),
		info("durable_c256", "p99_ms", "durable send p99 at 256 senders (ms)", true),
		info("durable_c256", "us_per_send", "durable: server CPU per send at 256 senders (µs)", true),
		info("durable_mysql_c1", "sends_per_s", "durable sends/s, MySQL store, 1 sender", false),
		info("durable_mysql_c16", "sends_per_s", "durable sends/s, MySQL store, 16 senders", false),
		info("durable_mysql_c256", "sends_per_s", "durable sends/s, MySQL store, 256 senders", false),
		info("durable_mysql_c256", "us_per_send", "durable: pollchat+MariaDB CPU per send at 256 senders (µs)", true),
		info("parked", "goroutines_per_poll_idle_max", "parked: goroutines per parked poll, most while idle cycling", true),
		info("parked_cluster", "goroutines_per_poll_idle_max", "cluster (Redis): goroutines per parked poll, most while idle cycling", true),
		info("parked_cluster", "idle_cpu_pct", "cluster (Redis): idle cycling, pollchat CPU, % of one core", true),
		info("parked_cluster", "us_per_repoll", "cluster (Redis): pollchat CPU per re-poll (µs)", true),
		info("parked_cluster", "redis_us_per_repoll", "cluster (Redis): Redis CPU per re-poll (µs)", true),
	}
	for _, p := range []int{1, procs} {
		name := "1 process"
		if p > 1 {
			name = fmt.Sprintf("%d processes on Redis", p)
		}
		sc := fmt.Sprintf("cluster_p%d_", p)
		rs = append(rs,
			info(sc+"direct", "deliveries_per_s", "scale, "+name+": direct deliveries per second", false),
			info(sc+"direct", "p99_ms", "scale, "+name+": direct latency p99 (ms)", true),
			info(sc+"direct", "us_per_msg", "scale, "+name+": direct, pollchat CPU per message (µs, all processes)", true),
			info(sc+"direct", "us_per_msg_marginal", "scale, "+name+": direct, pollchat CPU per message above idle (µs, all processes)", true),
			info(sc+"direct", "redis_us_per_delivery", "scale, "+name+": direct, Redis CPU per delivery (µs)", true),
			info(sc+"direct", "redis_us_per_delivery_marginal", "scale, "+name+": direct, Redis CPU per delivery above idle (µs)", true),
			info(sc+"direct", "mariadb_us_per_delivery", "scale, "+name+": direct, MariaDB CPU per message (µs)", true),
			atMost(sc+"direct", "lost", "scale, "+name+": direct messages lost", 0, false),
			info(sc+"fanout_saturated", "deliveries_per_s", "scale, "+name+": room fan-out saturated, deliveries per second", false),
			info(sc+"fanout_saturated", "p99_ms", "scale, "+name+": room fan-out saturated, latency p99 (ms)", true),
			info(sc+"fanout_saturated", "us_per_delivery", "scale, "+name+": room fan-out, pollchat CPU per delivery (µs, all processes)", true),
			info(sc+"fanout_saturated", "redis_us_per_delivery", "scale, "+name+": room fan-out, Redis CPU per delivery (µs)", true),
			atLeast(sc+"fanout", "all_once_in_order", "scale, "+name+": room fan-out 20 msg/s, every member all once, in order (1 = yes)", 1),
			atLeast(sc+"fanout_saturated", "all_once_in_order", "scale, "+name+": room fan-out saturated, every member all once, in order (1 = yes)", 1),
			info(sc+"fanout_saturated", "members_ids_disorder", "scale, "+name+": room fan-out saturated, members who saw message ids go down", true),
			info(sc+"fanout_saturated", "members_order_disagree", "scale, "+name+": room fan-out saturated, members whose order differs from another's", true),
		)
	}
	return rs
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
		if r.Metrics["failed"] != 1 { // a failed run measured nothing
			other[r.Scenario+"|"+r.Target] = append(other[r.Scenario+"|"+r.Target], r.CPU.OtherPct)
		}
	}
	get := func(sc, tk, m string) (float64, bool) {
		v, ok := vals[sc+"|"+tk+"|"+m]
		if !ok {
			return 0, false
		}
		return median(v), true
	}
	fmt.Fprintf(w, "\nMedians of %d run(s); parked %d (park %s), room %d members, direct %d users at %.0f/s; cluster: %d users at %.0f/s, room %d.\n\n",
		o.runs, o.parked, o.park, o.members, o.directUsers, o.directRate, o.clusterUsers, o.clusterRate, o.clusterMembers)
	fmt.Fprintln(w, "| line | pollchat | Nchan | pollchat/Nchan | target | met |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---|---|")
	for _, r := range tableRows(o.clusterProcs) {
		p, okP := get(r.scenario, "pollchat", r.metric)
		n, okN := get(r.scenario, "nchan", r.metric)
		if !okP && !okN {
			continue
		}
		ratio := "–"
		if okP && okN && n != 0 {
			ratio = fmt.Sprintf("%.2f", p/n)
		}
		goal, met := r.target(), r.met(p, okP, n, okN)
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", r.label, cell(p, okP), cell(n, okN), ratio, goal, met)
	}
	// A scenario run that failed is a row of its own: the medians above
	// are of the runs that did not fail.
	for _, r := range all {
		if r.Metrics["failed"] != 1 {
			continue
		}
		why := strings.Join(r.Notes, "; ")
		why = strings.NewReplacer("|", "/", "\n", " ").Replace(why)
		fmt.Fprintf(w, "| %s against %s, run %d: %s | – | – | – | runs to the end | failed |\n", r.Scenario, r.Target, r.Run, why)
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

func cell(v float64, ok bool) string {
	if !ok {
		return "–"
	}
	return num(v)
}

// target is the goal as the table shows it.
func (r row) target() string {
	if r.goalText != "" {
		return r.goalText
	}
	var parts []string
	if r.vsNchan {
		if r.lower {
			parts = append(parts, "≤ Nchan")
		} else {
			parts = append(parts, "≥ Nchan")
		}
	}
	if r.hasGoal {
		if r.lower {
			parts = append(parts, "≤ "+num(r.goal))
		} else {
			parts = append(parts, "≥ "+num(r.goal))
		}
	}
	return strings.Join(parts, ", ")
}

// met is "met" or "missed" for a row with a target, "" without one, and
// "–" when a figure the target needs is missing (Nchan not run).
func (r row) met(p float64, okP bool, n float64, okN bool) string {
	if !r.hasGoal && !r.vsNchan {
		return ""
	}
	if !okP || (r.vsNchan && !okN && !r.hasGoal) {
		return "–"
	}
	ok := true
	better := func(a, b float64) bool {
		if r.lower {
			return a <= b
		}
		return a >= b
	}
	if r.hasGoal && !better(p, r.goal) {
		ok = false
	}
	if r.vsNchan && okN && !better(p, n) {
		ok = false
	}
	if ok {
		return "met"
	}
	return "missed"
}

// printHeading says what was measured, when, where and how.
func printHeading(w io.Writer, o *options, all []result) {
	commit := o.commit
	if commit == "" {
		commit = "unknown"
	}
	from, to := "", ""
	if len(all) > 0 {
		from, to = all[0].Time, all[len(all)-1].Time
	}
	fmt.Fprintf(w, "# pollchat against Nchan: commit %s\n\n", commit)
	fmt.Fprintf(w, "- measured %s to %s\n", from, to)
	fmt.Fprintf(w, "- machine: %s\n", machine())
	fmt.Fprintf(w, "- command: `loadgen %s`\n", o.cmdline)
}

// machine is the cores, the CPU model and the load average.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				if i := strings.IndexByte(l, ':'); i >= 0 {
					model = strings.TrimSpace(l[i+1:])
				}
				break
			}
		}
	}
	load := ""
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		load = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	return fmt.Sprintf("%d cores, %s, %s, load average %s at the end", runtime.NumCPU(), model, runtime.Version(), load)
}
