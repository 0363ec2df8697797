package server

import (
	"strings"
	"testing"
	"time"

	"pollchat/config"
)

func testServer() *Server { return &Server{cfg: config.Default("admin-test-secret-0123456789")} }

func TestSessionCookie(t *testing.T) {
	s := testServer()
	now := time.Now()
	v := s.signSession(session{User: "2", Name: "Grace", Exp: now.Add(time.Minute).Unix(), CSRF: "c0ffee"})
	if ss, ok := s.readSession(v, now); !ok || ss.User != "2" || ss.CSRF != "c0ffee" {
		t.Fatalf("readSession(signed) = %+v, %v; want the session", ss, ok)
	}
	if _, ok := s.readSession(v, now.Add(2*time.Minute)); ok {
		t.Error("readSession accepted an expired session")
	}
	payload, sig, _ := strings.Cut(v, ".")
	other := &Server{cfg: config.Default("another-secret-0123456789")}
	for name, bad := range map[string]string{
		"other key":       other.signSession(session{User: "2", Exp: now.Add(time.Minute).Unix(), CSRF: "c"}),
		"no signature":    payload,
		"flipped sig":     payload + "." + strings.ToUpper(sig),
		"swapped payload": s.signSession(session{User: "1", Exp: now.Add(time.Minute).Unix(), CSRF: "c"})[:len(payload)] + "." + sig,
		"empty":           "",
		"no csrf":         s.signSession(session{User: "2", Exp: now.Add(time.Minute).Unix()}),
	} {
		if _, ok := s.readSession(bad, now); ok {
			t.Errorf("readSession(%s) accepted it", name)
		}
	}
}

func TestSessionTTL(t *testing.T) {
	for _, tc := range []struct {
		in   any
		want int64
		ok   bool
	}{{nil, DefaultSessionTTL, true}, {"60", 60, true}, {"3600", 3600, true}, {"59", 0, false}, {"3601", 0, false}, {"6e2", 600, true}, {"1.5", 0, false}, {true, 0, false}} {
		got, ok := sessionTTL(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("sessionTTL(%v) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func FuzzReadSession(f *testing.F) {
	s := testServer()
	f.Add(s.signSession(session{User: "2", Exp: time.Now().Add(time.Hour).Unix(), CSRF: "c"}))
	f.Add("x.y")
	f.Add("..")
	f.Fuzz(func(t *testing.T, v string) {
		ss, ok := s.readSession(v, time.Now())
		if ok && (ss.User == "" || ss.CSRF == "") {
			t.Fatalf("readSession(%q) accepted an incomplete session %+v", v, ss)
		}
	})
}
