package main

import (
	"bufio"
	"net"
	"reflect"
	"strings"
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
	printTable(&b, &options{runs: 2}, []result{
		{Scenario: "parked", Target: "pollchat", Metrics: map[string]float64{"kb_per_poll": 5}},
		{Scenario: "parked", Target: "pollchat", Metrics: map[string]float64{"kb_per_poll": 7}},
		{Scenario: "parked", Target: "nchan", Metrics: map[string]float64{"kb_per_poll": 12}},
	})
	if want := "| parked: RSS per parked poll (KB) | 6.00 | 12.00 | 0.50 | ≤ 6.00 | yes |"; !strings.Contains(b.String(), want) {
		t.Errorf("printTable = %s; want a line %q", b.String(), want)
	}
}
