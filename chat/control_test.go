package chat

import (
	"errors"
	"reflect"
	"testing"
)

func TestControlRoundTrip(t *testing.T) {
	for _, c := range []Control{
		{Kind: ControlMutes},
		{Kind: ControlBlocks, Users: []string{"42"}},
		{Kind: ControlInvalidate, Users: []string{"3", "4", "user-5"}},
		{Kind: ControlCaller, Caller: CallerInfo{ID: "7", Name: "Ann, \"the\" admin: ok", AvatarURL: "https://x.test/a.png"}},
	} {
		b, err := c.Encode()
		if err != nil {
			t.Fatalf("Encode(%+v) = %v", c, err)
		}
		got, err := DecodeControl(b)
		if err != nil || !reflect.DeepEqual(got, c) {
			t.Fatalf("DecodeControl(%q) = %+v, %v; want %+v", b, got, err, c)
		}
	}
}

// The wire forms are those of the string messages they replace, so that
// processes of the previous version understand them in a rolling restart.
func TestControlWire(t *testing.T) {
	for in, want := range map[string]Control{
		"mutes":                              {Kind: ControlMutes},
		"blocks:9":                           {Kind: ControlBlocks, Users: []string{"9"}},
		"invalidate:1,2":                     {Kind: ControlInvalidate, Users: []string{"1", "2"}},
		`caller:{"user_id":"5","name":"Bo"}`: {Kind: ControlCaller, Caller: CallerInfo{ID: "5", Name: "Bo"}},
	} {
		got, err := DecodeControl([]byte(in))
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("DecodeControl(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
}

func TestControlRefused(t *testing.T) {
	for _, in := range []string{"", "mutes:1", "blocks:", "blocks:1,2", "blocks:a b", "invalidate:", "invalidate:1,,2",
		"caller:", "caller:{}", `caller:{"user_id":""}`, `caller:{"user_id":"1\n"}`, "caller:[1]", "wake:1", ":"} {
		if c, err := DecodeControl([]byte(in)); !errors.Is(err, ErrBadControl) {
			t.Errorf("DecodeControl(%q) = %+v, %v; want ErrBadControl", in, c, err)
		}
	}
	for _, c := range []Control{{}, {Kind: ControlBlocks}, {Kind: ControlBlocks, Users: []string{"1", "2"}},
		{Kind: ControlInvalidate, Users: []string{"a,b"}}, {Kind: ControlCaller}, {Kind: 99}} {
		if b, err := c.Encode(); !errors.Is(err, ErrBadControl) {
			t.Errorf("Encode(%+v) = %q, %v; want ErrBadControl", c, b, err)
		}
	}
}

// FuzzDecodeControl: control messages are read from Redis, which anyone
// with access to it can publish on. Decode never panics, and what it
// accepts encodes back to a message that decodes to the same Control.
func FuzzDecodeControl(f *testing.F) {
	for _, s := range []string{"mutes", "blocks:1", "invalidate:1,2,3", `caller:{"user_id":"1","name":"x"}`, "caller:{", "blocks:\x00"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeControl(b)
		if err != nil {
			return
		}
		enc, err := c.Encode()
		if err != nil {
			t.Fatalf("DecodeControl(%q) = %+v, which does not encode: %v", b, c, err)
		}
		again, err := DecodeControl(enc)
		if err != nil || !reflect.DeepEqual(again, c) {
			t.Fatalf("round trip of %q: %+v -> %q -> %+v, %v", b, c, enc, again, err)
		}
	})
}
