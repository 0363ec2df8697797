package files

import (
	"bytes"
	"errors"
	"regexp"
	"testing"
	"time"
)

func TestSign(t *testing.T) {
	key := bytes.Repeat([]byte("k"), 32)
	s, err := NewSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewSigner(key[:31]); err == nil {
		t.Fatal("NewSigner(31-byte key) = nil error; want refusal")
	}
	other, _ := NewSigner(bytes.Repeat([]byte("x"), 32))
	now := time.Unix(1_800_000_000, 0)
	id := NewID()
	for _, scope := range []string{"with:1:3", "room:lobby", "room:Grüße ☕", ""} {
		tok := s.Sign(id, scope, now.Add(time.Hour))
		if !regexp.MustCompile(`^[A-Za-z0-9_.-]+$`).MatchString(tok) {
			t.Fatalf("Sign = %q; not URL-safe", tok)
		}
		got, err := s.Verify(id, tok, now)
		if err != nil || got != scope {
			t.Fatalf("Verify(%q) = %q, %v; want %q", tok, got, err, scope)
		}
		if _, err := s.Verify(id, tok, now.Add(time.Hour)); !errors.Is(err, ErrExpired) || Code(err) != "FORBIDDEN" {
			t.Fatalf("Verify at expiry = %v; want ErrExpired", err)
		}
		if _, err := s.Verify(ThumbID(id), tok, now); !errors.Is(err, ErrSignature) {
			t.Fatalf("Verify(other id) = %v; want ErrSignature", err)
		}
		if _, err := other.Verify(id, tok, now); !errors.Is(err, ErrSignature) {
			t.Fatalf("Verify(other key) = %v; want ErrSignature", err)
		}
		// Flip every character: never accepted.
		for i := range tok {
			b := []byte(tok)
			b[i] ^= 1
			if sc, err := s.Verify(id, string(b), now); err == nil {
				t.Fatalf("Verify(tampered at %d: %q) = %q, nil; want error", i, b, sc)
			}
		}
	}
	// Moving the scope or the expiry from one token to another fails.
	a := s.Sign(id, "with:1:3", now.Add(time.Minute))
	b := s.Sign(id, "room:lobby", now.Add(time.Hour))
	ap, bp := splitDots(a), splitDots(b)
	for _, forged := range []string{bp[0] + "." + ap[1] + "." + ap[2], ap[0] + "." + bp[1] + "." + ap[2]} {
		if _, err := s.Verify(id, forged, now); !errors.Is(err, ErrSignature) {
			t.Fatalf("Verify(spliced %q) = %v; want ErrSignature", forged, err)
		}
	}
	for _, junk := range []string{"", "..", "a.b.c", "a.+1.c", "a.01." + ap[2], string(bytes.Repeat([]byte("a"), 5000))} {
		if _, err := s.Verify(id, junk, now); !errors.Is(err, ErrSignature) {
			t.Fatalf("Verify(%q) = %v; want ErrSignature", junk, err)
		}
	}
}

func splitDots(s string) []string { return regexp.MustCompile(`\.`).Split(s, -1) }

func TestExpiry(t *testing.T) {
	ttl := time.Hour
	base := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	first := Expiry(base.Add(time.Second), ttl)
	for _, d := range []time.Duration{time.Second, 5 * time.Minute, 14*time.Minute + 59*time.Second} {
		now := base.Add(d)
		e := Expiry(now, ttl)
		if e != first {
			t.Fatalf("Expiry(+%v) = %v; want %v (same quarter, same URL)", d, e, first)
		}
		if e.Sub(now) < ttl || e.Sub(now) > ttl*5/4 {
			t.Fatalf("Expiry(+%v) lifetime %v; want ttl..1.25ttl", d, e.Sub(now))
		}
	}
	if Expiry(base.Add(16*time.Minute), ttl) == first {
		t.Fatal("Expiry in the next quarter equals the previous one")
	}
}

func TestIDs(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		id := NewID()
		if !ValidID(id) || !ValidID(ThumbID(id)) || seen[id] {
			t.Fatalf("NewID = %q: valid %v, thumb valid %v, repeated %v", id, ValidID(id), ValidID(ThumbID(id)), seen[id])
		}
		seen[id] = true
	}
	id := NewID()
	for _, bad := range []string{"", "..", "../" + id[3:], id[:25], id + "a", id + "_tt", "A" + id[1:], id[:25] + "b", id[:2] + "/" + id[3:], id + "_x", id[:25] + "\x00"} {
		if ValidID(bad) {
			t.Fatalf("ValidID(%q) = true; want false", bad)
		}
	}
}

func TestCode(t *testing.T) {
	for _, tt := range []struct {
		err  error
		code string
	}{
		{nil, ""},
		{ErrTooLarge, "TOO_LONG"}, {ErrDimensions, "TOO_LONG"},
		{ErrType, "BAD_REQUEST"}, {ErrContent, "BAD_REQUEST"},
		{CheckQuota(90, 20, 100), "RATE_LIMITED"},
		{ErrExpired, "FORBIDDEN"}, {ErrSignature, "FORBIDDEN"},
		{ErrNotFound, "NOT_FOUND"}, {ErrBadID, "NOT_FOUND"},
		{errors.New("disk full"), "INTERNAL_ERROR"},
	} {
		if got := Code(tt.err); got != tt.code {
			t.Errorf("Code(%v) = %q; want %q", tt.err, got, tt.code)
		}
	}
	if err := CheckQuota(80, 20, 100); err != nil {
		t.Fatalf("CheckQuota(80+20 of 100) = %v; want nil", err)
	}
	if err := CheckQuota(1<<62, 1<<62, 1<<62); !errors.Is(err, ErrQuota) {
		t.Fatalf("CheckQuota(overflow) = %v; want ErrQuota", err)
	}
	if err := CheckQuota(1e12, 1, 0); err != nil {
		t.Fatalf("CheckQuota(no limit) = %v; want nil", err)
	}
}
