package server

import (
	"bufio"
	"encoding/base64"
	"net"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"pollchat/bridge"
	"pollchat/chat"
	"pollchat/config"
	"pollchat/store"
)

// newTestServer builds a real Server over an embedded store in a temp dir,
// served on an in-memory listener. It returns a dial function that connects
// as if from the given remote address.
func newTestServer(t *testing.T, cfg *config.Config) func(remote string) net.Conn {
	t.Helper()
	st, err := store.OpenEmbedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	dir := bridge.NewDirectory(bridge.NewStaticSource(nil), bridge.DirectoryConfig{})
	svc, err := chat.New(chat.Config{}, st, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	v, err := bridge.NewVerifier(cfg.Auth)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(cfg, svc, dir, v, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln := fasthttputil.NewInmemoryListener()
	hs := &fasthttp.Server{Handler: s.Handler()}
	go hs.Serve(ln)
	t.Cleanup(func() { ln.Close() })
	return func(remote string) net.Conn {
		t.Helper()
		c, err := ln.DialWithLocalAddr(&net.TCPAddr{IP: net.ParseIP(remote), Port: 40000})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
}

func getMetrics(t *testing.T, c net.Conn, headers map[string]string) *fasthttp.Response {
	t.Helper()
	var req fasthttp.Request
	req.SetRequestURI("http://pollchat/metrics")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	req.SetConnectionClose()
	if _, err := req.WriteTo(c); err != nil {
		t.Fatal(err)
	}
	resp := &fasthttp.Response{}
	if err := resp.Read(bufio.NewReader(c)); err != nil {
		t.Fatal(err)
	}
	return resp
}

// TestMetricsAccess checks who may read /metrics: loopback peers that do
// not forward for someone else, holders of the API credentials (only when
// the API is on), and anyone with server.metrics_public.
func TestMetricsAccess(t *testing.T) {
	basic := func(user, pass string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	}
	good := basic("backend", "pw-0123456789")
	cases := []struct {
		name     string
		public   bool
		password string
		remote   string
		headers  map[string]string
		want     int
	}{
		{"loopback v4", false, "pw-0123456789", "127.0.0.1", nil, 200},
		{"loopback v6", false, "pw-0123456789", "::1", nil, 200},
		{"remote without credentials", false, "pw-0123456789", "203.0.113.7", nil, 401},
		{"remote with credentials", false, "pw-0123456789", "203.0.113.7", map[string]string{"Authorization": good}, 200},
		{"remote with wrong password", false, "pw-0123456789", "203.0.113.7", map[string]string{"Authorization": basic("backend", "nope")}, 401},
		{"remote with wrong login", false, "pw-0123456789", "203.0.113.7", map[string]string{"Authorization": basic("admin", "pw-0123456789")}, 401},
		{"remote with garbage auth", false, "pw-0123456789", "203.0.113.7", map[string]string{"Authorization": "Basic !!!"}, 401},
		{"remote, api off, empty credentials", false, "", "203.0.113.7", map[string]string{"Authorization": basic("backend", "")}, 401},
		{"private network is not loopback", false, "pw-0123456789", "10.0.0.5", nil, 401},
		{"loopback proxy forwarding X-Forwarded-For", false, "pw-0123456789", "127.0.0.1", map[string]string{"X-Forwarded-For": "203.0.113.7"}, 401},
		{"loopback proxy forwarding Forwarded", false, "pw-0123456789", "127.0.0.1", map[string]string{"Forwarded": "for=203.0.113.7"}, 401},
		{"loopback proxy forwarding X-Real-IP", false, "pw-0123456789", "127.0.0.1", map[string]string{"X-Real-IP": "203.0.113.7"}, 401},
		{"loopback proxy with credentials", false, "pw-0123456789", "127.0.0.1", map[string]string{"X-Forwarded-For": "203.0.113.7", "Authorization": good}, 200},
		{"spoofed X-Forwarded-For 127.0.0.1 from remote", false, "pw-0123456789", "203.0.113.7", map[string]string{"X-Forwarded-For": "127.0.0.1"}, 401},
		{"metrics_public", true, "", "203.0.113.7", nil, 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &config.Config{
				Server: config.Server{MetricsPublic: tc.public},
				Auth:   config.Auth{Secret: "unit-secret-0123456789"},
				API:    config.API{Login: "backend", Password: tc.password},
			}
			dial := newTestServer(t, cfg)
			resp := getMetrics(t, dial(tc.remote), tc.headers)
			if resp.StatusCode() != tc.want {
				t.Fatalf("GET /metrics from %s %v = %d %q; want %d", tc.remote, tc.headers, resp.StatusCode(), resp.Body(), tc.want)
			}
			body := string(resp.Body())
			if tc.want == 200 && !strings.Contains(body, "pollchat_parked_polls") {
				t.Fatalf("GET /metrics body = %.200q; want Prometheus text", body)
			}
			if tc.want == 401 {
				if strings.Contains(body, "pollchat_") {
					t.Fatalf("refused /metrics leaks metrics: %q", body)
				}
				if resp.Header.Peek("WWW-Authenticate") == nil {
					t.Errorf("refused /metrics has no WWW-Authenticate")
				}
			}
		})
	}
}
