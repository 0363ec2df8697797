package main

import (
	"fmt"
	"slices"
	"time"
)

// startCluster starts procs pollchat processes on a fresh database of the
// private MariaDB (a cluster needs the shared MySQL store) and, with
// withRedis, on a private redis-server (cluster.redis_url). The first
// process is returned with the others as its peers; Redis and MariaDB are
// measured apart from pollchat (server.aux). stop ends them all.
func startCluster(o *options, procs int, withRedis bool) (*server, func(), error) {
	dsn, err := o.mysqlDSN()
	if err != nil {
		return nil, nil, err
	}
	var rd *redisServer
	url := ""
	if withRedis {
		if rd, err = startRedis(); err != nil {
			return nil, nil, err
		}
		url = rd.url()
	}
	var first *server
	stop := func() {
		if first != nil {
			first.stop()
		}
		rd.stop()
	}
	for i := 0; i < procs; i++ {
		s, err := startPollchat(o.pollchat, dsn, url)
		if err != nil {
			stop()
			return nil, nil, fmt.Errorf("pollchat %d of %d: %w", i+1, procs, err)
		}
		if first == nil {
			first = s
		} else {
			first.peers = append(first.peers, s)
		}
	}
	first.aux = map[string]int{"mariadb": o.maria.cmd.Process.Pid}
	if rd != nil {
		first.aux["redis"] = rd.pid()
	}
	return first, stop, nil
}

// clusterScale runs the same load on one process (no Redis) and on
// -cluster-procs processes on Redis, both on the MySQL store: direct
// messages to parked users, then room fan-out; users and senders are
// spread round-robin over the processes, so most messages cross from one
// process to another. The order alternates with the run. Scenarios are
// named cluster_pN_direct, cluster_pN_fanout, cluster_pN_fanout_saturated.
func clusterScale(o *options, run int) ([]result, error) {
	order := []int{1, o.clusterProcs}
	if run%2 == 0 {
		slices.Reverse(order)
	}
	co := *o
	co.directUsers = o.clusterUsers
	co.directRate = o.clusterRate
	co.members = o.clusterMembers
	co.fanMsgs = min(o.fanMsgs, 100)
	co.baseline = 4 * time.Second
	var out []result
	for _, procs := range order {
		rs, err := clusterOnce(&co, procs)
		if err != nil {
			return nil, fmt.Errorf("%d process(es): %w", procs, err)
		}
		out = append(out, rs...)
	}
	return out, nil
}

func clusterOnce(o *options, procs int) ([]result, error) {
	s, stop, err := startCluster(o, procs, procs > 1)
	if err != nil {
		return nil, err
	}
	defer stop()
	t := &target{kind: "pollchat", srv: s, park: o.park, addrs: s.addrs()}
	logf("cluster: %d process(es), direct", procs)
	d, err := direct(o, t)
	if err != nil {
		return nil, err
	}
	logf("cluster: %d process(es), fanout", procs)
	f, err := fanout(o, t)
	if err != nil {
		return nil, err
	}
	out := append(d, f...)
	for i := range out {
		out[i].Scenario = fmt.Sprintf("cluster_p%d_%s", procs, out[i].Scenario)
		out[i].Metrics["processes"] = float64(procs)
	}
	return out, nil
}

// addAux adds, for each process measured apart (redis, mariadb), its CPU
// per unit (µs, e.g. redis_us_per_delivery) and its share of one core.
func addAux(m map[string]float64, cpu cpuUse, per string, n float64) {
	for name, s := range cpu.Aux {
		if n > 0 {
			m[name+"_us_"+per] = s * 1e6 / n
		}
		if cpu.Seconds > 0 {
			m[name+"_cpu_pct"] = 100 * s / cpu.Seconds
		}
	}
}
