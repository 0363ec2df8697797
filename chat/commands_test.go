package chat

import (
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

func TestParseCommand(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in     string
		want   Command
		errSub string // "" = no error; else a part of the error message
	}{
		{"/help", Command{Name: "help"}, ""},
		{"  /HELP me please ", Command{Name: "help"}, ""},
		{"/mute Linus 10", Command{Name: "mute", Target: "Linus", Duration: 10 * time.Minute}, ""},
		{"/mute 3 1", Command{Name: "mute", Target: "3", Duration: time.Minute}, ""},
		{"/Mute  Grace Hopper   5 ", Command{Name: "mute", Target: "Grace Hopper", Duration: 5 * time.Minute}, ""},
		{`/mute "Grace Hopper" 5`, Command{Name: "mute", Target: "Grace Hopper", Duration: 5 * time.Minute}, ""},
		{"/mute 'Ada' 2h", Command{Name: "mute", Target: "Ada", Duration: 2 * time.Hour}, ""},
		{"/mute Linus 30s", Command{Name: "mute", Target: "Linus", Duration: 30 * time.Second}, ""},
		{"/mute Linus 1s", Command{Name: "mute", Target: "Linus", Duration: time.Second}, ""},
		{"/mute Linus 43200", Command{Name: "mute", Target: "Linus", Duration: MaxMute}, ""},
		{"/mute Linus 720h", Command{Name: "mute", Target: "Linus", Duration: MaxMute}, ""},
		{"/mute\tLinus\t10", Command{Name: "mute", Target: "Linus", Duration: 10 * time.Minute}, ""},
		{"/mute Linus\u00a010", Command{Name: "mute", Target: "Linus", Duration: 10 * time.Minute}, ""},
		{"/mute Дмитрий 15", Command{Name: "mute", Target: "Дмитрий", Duration: 15 * time.Minute}, ""},
		{"/unmute Linus", Command{Name: "unmute", Target: "Linus"}, ""},
		{"/unmute  Grace Hopper ", Command{Name: "unmute", Target: "Grace Hopper"}, ""},
		{`/unmute "Ada"`, Command{Name: "unmute", Target: "Ada"}, ""},

		{"/mute", Command{Name: "mute"}, "usage: /mute"},
		{"/mute Linus", Command{Name: "mute"}, "usage: /mute"},
		{"/mute 10", Command{Name: "mute"}, "usage: /mute"},
		{"/mute Linus 0", Command{Name: "mute", Target: "Linus"}, "usage: /mute"},
		{"/mute Linus -5", Command{Name: "mute", Target: "Linus"}, "usage: /mute"},
		{"/mute Linus 43201", Command{Name: "mute", Target: "Linus"}, "usage: /mute"},
		{"/mute Linus 721h", Command{Name: "mute", Target: "Linus"}, "usage: /mute"},
		{"/mute Linus 500ms", Command{Name: "mute", Target: "Linus"}, "usage: /mute"},
		{"/mute Linus soon", Command{Name: "mute", Target: "Linus"}, "usage: /mute"},
		{"/mute Linus 1.5", Command{Name: "mute", Target: "Linus"}, "usage: /mute"},
		{"/mute Linus 99999999999999999999", Command{Name: "mute", Target: "Linus"}, "usage: /mute"},
		{`/mute "" 5`, Command{Name: "mute"}, "usage: /mute"},
		{"/unmute", Command{Name: "unmute"}, "usage: /unmute"},
		{`/unmute ""`, Command{Name: "unmute"}, "usage: /unmute"},
		{"/kick Linus", Command{Name: "kick"}, "unknown command /kick"},
		{"/", Command{}, "unknown command /"},
		{"hello", Command{}, "not a command"},
		{"", Command{}, "not a command"},
	}
	for _, tc := range cases {
		got, err := ParseCommand(tc.in)
		if tc.errSub == "" {
			if err != nil || got != tc.want {
				t.Errorf("ParseCommand(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.errSub) {
			t.Errorf("ParseCommand(%q) error = %v; want one containing %q", tc.in, err, tc.errSub)
			continue
		}
		if e := AsError(err); e.Code != CodeBadRequest {
			t.Errorf("ParseCommand(%q) error code = %s; want %s", tc.in, e.Code, CodeBadRequest)
		}
		if got.Name != tc.want.Name || got.Duration != 0 {
			t.Errorf("ParseCommand(%q) = %+v; want name %q and no duration", tc.in, got, tc.want.Name)
		}
	}
}

func TestParseMuteLengthMinutes(t *testing.T) {
	t.Parallel()
	// Mins shown to users is the mute rounded up to whole minutes.
	for _, tc := range []struct {
		in   string
		mins int
	}{{"1", 1}, {"30s", 1}, {"90s", 2}, {"1h", 60}, {"1h30m", 90}} {
		c, err := ParseCommand("/mute x " + tc.in)
		if err != nil {
			t.Fatalf("ParseCommand(/mute x %s) = %v", tc.in, err)
		}
		if got := int((c.Duration + time.Minute - 1) / time.Minute); got != tc.mins {
			t.Errorf("/mute x %s = %v, %d minutes; want %d", tc.in, c.Duration, got, tc.mins)
		}
	}
}

// FuzzCommand: ParseCommand never panics and what it accepts is sound: a
// known command, a trimmed non-empty target where one is needed, a mute
// length within 1s..MaxMute; and a parsed mute reads back the same.
func FuzzCommand(f *testing.F) {
	for _, s := range []string{
		"/help", "/mute Linus 10", `/mute "Grace Hopper" 2h`, "/unmute 3", "/mute\t\u00a0x 1s",
		"/mute x 9223372036854775807ns", "/mute x -0", "/mute \" 5", "/unmute '", "/MUTE É 1", "/", "",
		"/mute x 1e3", "/mute x 0x10", "/mute x +5", "/mute  \u2028 5",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		c, err := ParseCommand(in)
		if err != nil {
			if e := AsError(err); e.Code != CodeBadRequest || e.Message == "" {
				t.Fatalf("ParseCommand(%q) error = %#v; want BAD_REQUEST with a message", in, e)
			}
			return
		}
		switch c.Name {
		case "help":
			if c.Target != "" || c.Duration != 0 {
				t.Fatalf("ParseCommand(%q) = %+v; help takes nothing", in, c)
			}
			return
		case "mute":
			if c.Duration < time.Second || c.Duration > MaxMute {
				t.Fatalf("ParseCommand(%q).Duration = %v; want 1s..%v", in, c.Duration, MaxMute)
			}
		case "unmute":
			if c.Duration != 0 {
				t.Fatalf("ParseCommand(%q).Duration = %v; want 0", in, c.Duration)
			}
		default:
			t.Fatalf("ParseCommand(%q) accepted command %q", in, c.Name)
		}
		if c.Target == "" || strings.TrimFunc(c.Target, unicode.IsSpace) != c.Target {
			t.Fatalf("ParseCommand(%q).Target = %q; want non-empty and trimmed", in, c.Target)
		}
		if utf8.ValidString(in) && !utf8.ValidString(c.Target) {
			t.Fatalf("ParseCommand(%q).Target = %q is not valid UTF-8", in, c.Target)
		}
		if c.Name == "mute" && !strings.ContainsAny(c.Target, `"'`) {
			again, err := ParseCommand("/mute " + c.Target + " " + c.Duration.String())
			if err != nil || again != c {
				t.Fatalf("ParseCommand(%q) = %+v, but its rewrite reads %+v, %v", in, c, again, err)
			}
		}
	})
}
