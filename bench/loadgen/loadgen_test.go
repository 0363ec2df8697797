package main

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"reflect"
	"strings"
	"sync"
	"testing"
)

func TestParsePollchat(t *testing.T) {
	tests := []struct {
		name, body string
		want       []msg
	}{
		{"no events", `{"cursor":"e-5","events":[]}`, nil},
		{"two messages", `{"cursor":"e-7","events":[{"type":"message","message":{"id":11,"from":"9","room":"bench","text":"b 3 100","ts":"x"}},` +
			`{"type":"user_joined","room":"bench","user":{"user_id":"4","name":"b 1 2"}},` +
			`{"type":"message","message":{"id":12,"from":"9","room":"bench","text":"b 4 200","ts":"x"}}]}`,
			[]msg{{seq: 3, ts: 100, id: 11}, {seq: 4, ts: 200, id: 12}}},
		{"other text", `{"cursor":"e-8","events":[{"type":"message","message":{"id":13,"text":"hello","ts":"x"}}]}`, nil},
	}
	for _, tc := range tests {
		if got := parsePollchat([]byte(tc.body), nil); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parsePollchat(%s) = %v; want %v", tc.name, got, tc.want)
		}
	}
	if got := jsonField([]byte(`{"cursor":"abc-12","events":[]}`), `"cursor":"`); got != "abc-12" {
		t.Errorf(`jsonField(cursor) = %q; want "abc-12"`, got)
	}
}

func TestParseText(t *testing.T) {
	tests := []struct {
		in   string
		want msg
		ok   bool
	}{
		{"b 1 2", msg{seq: 1, ts: 2}, true},
		{"b 1", msg{}, false},
		{"x 1 2", msg{}, false},
		{"b one 2", msg{}, false},
	}
	for _, tc := range tests {
		got, ok := parseText([]byte(tc.in))
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseText(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// The client reads answers with a length, chunked answers and Nchan's 304.
func TestReadResponse(t *testing.T) {
	tests := []struct {
		name, raw      string
		status         int
		body, lm, etag string
		close          bool
	}{
		{"length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nEtag: 3\r\nLast-Modified: Sun, 22 Nov 2026 03:00:00 GMT\r\n\r\nhello",
			200, "hello", "Sun, 22 Nov 2026 03:00:00 GMT", "3", false},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n2;x=1\r\nde\r\n0\r\n\r\n",
			200, "abcde", "", "", true},
		{"not modified", "HTTP/1.1 304 Not Modified\r\n\r\n", 304, "", "", "", false},
	}
	for _, tc := range tests {
		a, b := net.Pipe()
		go func() { b.Write([]byte(tc.raw)); b.Close() }()
		c := &client{c: a, r: bufio.NewReader(a)}
		r, err := c.readResponse()
		a.Close()
		if err != nil {
			t.Errorf("readResponse(%s) = %v; want nil", tc.name, err)
			continue
		}
		if r.status != tc.status || string(r.body) != tc.body || string(r.lastModified) != tc.lm || string(r.etag) != tc.etag || r.close != tc.close {
			t.Errorf("readResponse(%s) = %d %q lm=%q etag=%q close=%v; want %d %q lm=%q etag=%q close=%v", tc.name,
				r.status, r.body, r.lastModified, r.etag, r.close, tc.status, tc.body, tc.lm, tc.etag, tc.close)
		}
	}
}

func TestMedianAndTable(t *testing.T) {
	if got := median([]float64{3, 1, 2}); got != 2 {
		t.Errorf("median(3,1,2) = %v; want 2", got)
	}
	if got := median([]float64{4, 1, 3, 2}); got != 2.5 {
		t.Errorf("median(4,1,3,2) = %v; want 2.5", got)
	}
	var b strings.Builder
	printTable(&b, &options{runs: 2, clusterProcs: 3}, []result{
		{Scenario: "parked", Target: "pollchat", Metrics: map[string]float64{"kb_per_poll": 3, "idle_cpu_pct": 2}},
		{Scenario: "parked", Target: "pollchat", Metrics: map[string]float64{"kb_per_poll": 5, "idle_cpu_pct": 4}},
		{Scenario: "parked", Target: "nchan", Metrics: map[string]float64{"kb_per_poll": 12, "idle_cpu_pct": 2}},
		{Scenario: "cluster_p3_direct", Target: "pollchat", Metrics: map[string]float64{"redis_us_per_delivery": 7}},
	})
	for _, want := range []string{
		"| memory per parked poll (KB RSS) | 4.00 | 12.00 | 0.33 | ≤ Nchan, ≤ 4.00 | met |",
		// under 3% but not below Nchan's 2%: missed
		"| idle cycling: server CPU, % of one core | 3.00 | 2.00 | 1.50 | ≤ Nchan, ≤ 3.00 | missed |",
		"| scale, 3 processes on Redis: direct, Redis CPU per delivery (µs) | 7.00 | – | – |  |  |",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("printTable = %s; want a line %q", b.String(), want)
		}
	}
}

func TestRowMet(t *testing.T) {
	tests := []struct {
		r        row
		p, n     float64
		okP, okN bool
		want     string
	}{
		{atMost("s", "m", "l", 3, true), 2, 2.5, true, true, "met"},
		{atMost("s", "m", "l", 3, true), 2.6, 2.5, true, true, "missed"}, // worse than Nchan
		{atMost("s", "m", "l", 3, true), 3.1, 9, true, true, "missed"},   // over the goal
		{atMost("s", "m", "l", 3, true), 2, 0, true, false, "met"},       // Nchan not run: the goal alone
		{notWorse("s", "m", "l", true), 2, 0, true, false, "–"},          // nothing to compare with
		{atLeast("s", "m", "l", 13000), 12999, 0, true, false, "missed"},
		{atLeast("s", "m", "l", 13000), 13000, 0, true, false, "met"},
		{atMost("s", "m", "l", 0, false), 1, 0, true, false, "missed"}, // one message lost
		{info("s", "m", "l", true), 1, 2, true, true, ""},
		{atMost("s", "m", "l", 5, false), 0, 0, false, true, "–"},
	}
	for i, tc := range tests {
		if got := tc.r.met(tc.p, tc.okP, tc.n, tc.okN); got != tc.want {
			t.Errorf("%d: %+v.met(%v, %v, %v, %v) = %q; want %q", i, tc.r, tc.p, tc.okP, tc.n, tc.okN, got, tc.want)
		}
	}
}

// The cluster config adds cluster.redis_url to the MySQL store.
func TestPollchatConfig(t *testing.T) {
	c := pollchatConfig("127.0.0.1:1", "/tmp/d", "root@tcp(127.0.0.1:2)/b", "redis://127.0.0.1:3/0")
	for _, want := range []string{"auto_join = \"none\"", "driver = \"mysql\"", "[cluster]\nredis_url = \"redis://127.0.0.1:3/0\"", "listen = \"127.0.0.1:1\""} {
		if !strings.Contains(c, want) {
			t.Errorf("pollchatConfig = %s; want %q", c, want)
		}
	}
	if c := pollchatConfig("127.0.0.1:1", "/tmp/d", "", ""); strings.Contains(c, "[cluster]") {
		t.Errorf("pollchatConfig(one process) = %s; want no [cluster]", c)
	}
}

// fanoutCheck tells members who saw message ids go down from members who
// disagree on the order, and passes a room where all agree.
func TestFanoutCheck(t *testing.T) {
	member := func(seqs []int32, ids []int64) *sub {
		return &sub{seqs: seqs, ids: ids, lats: make([]int64, len(seqs))}
	}
	tests := []struct {
		name                     string
		subs                     []*sub
		ok, idDisorder, disagree float64
	}{
		{"in order", []*sub{member([]int32{0, 1}, []int64{5, 6}), member([]int32{0, 1}, []int64{5, 6})}, 1, 0, 0},
		{"ids down, all agree", []*sub{member([]int32{0, 1}, []int64{6, 5}), member([]int32{0, 1}, []int64{6, 5})}, 0, 2, 0},
		{"disagree", []*sub{member([]int32{0, 1}, []int64{5, 6}), member([]int32{1, 0}, []int64{6, 5})}, 0, 1, 1},
		{"missing", []*sub{member([]int32{0, 1}, []int64{5, 6}), member([]int32{0}, []int64{5})}, 0, 0, 1},
	}
	for _, tc := range tests {
		m, _ := fanoutCheck(&fleet{subs: tc.subs}, 0, 2)
		if m["all_once_in_order"] != tc.ok || m["members_ids_disorder"] != tc.idDisorder || m["members_order_disagree"] != tc.disagree {
			t.Errorf("fanoutCheck(%s) = ok %v, ids down %v, disagree %v; want %v, %v, %v", tc.name,
				m["all_once_in_order"], m["members_ids_disorder"], m["members_order_disagree"], tc.ok, tc.idDisorder, tc.disagree)
		}
	}
}

// Errors of different concrete types, from many goroutines: the first
// is kept and none panics (an atomic.Value did, aborting a whole run).
func TestFirstErrorKeepsFirstOfAnyType(t *testing.T) {
	var f firstError
	if f.get() != nil {
		t.Fatal("a fresh firstError has an error")
	}
	first := errors.New("first")
	f.set(first)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if i%2 == 0 {
				f.set(fmt.Errorf("wrapped %d: %w", i, errStatus))
			} else {
				f.set(&net.OpError{Op: "dial", Err: errors.New("refused")})
			}
		}(i)
	}
	wg.Wait()
	if f.get() != first {
		t.Fatalf("got %v, want the first error", f.get())
	}
}

// A failed scenario run is a failed row, and the medians are those of the
// runs that did not fail.
func TestTableFailedRow(t *testing.T) {
	var b strings.Builder
	fail := failedResult("parked-cluster", "pollchat", errors.New("only 7306 of 15000 subscribers parked | after 2m25s"))
	fail.Run = 2
	if !failed([]result{fail}) {
		t.Fatal("failed() does not recognise failedResult")
	}
	printTable(&b, &options{runs: 2, clusterProcs: 3}, []result{
		{Scenario: "parked_cluster", Target: "pollchat", Run: 1, Metrics: map[string]float64{"kb_per_poll": 3.5}},
		fail,
	})
	for _, want := range []string{
		"| cluster (Redis): memory per parked poll (KB RSS) | 3.50 | – | – | ≤ 4.00 | met |",
		"| parked_cluster against pollchat, run 2: failed: only 7306 of 15000 subscribers parked / after 2m25s | – | – | – | runs to the end | failed |",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("printTable = %s; want a line %q", b.String(), want)
		}
	}
}
