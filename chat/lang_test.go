package chat

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// TestSystemTextsFollowHelloLang: /help and the mute notice come in the
// language the caller's hello named; an unknown one is English.
func TestSystemTextsFollowHelloLang(t *testing.T) {
	svc := newTestService(t, Config{Rooms: []string{"lobby"}})
	ctx := context.Background()
	cases := []struct{ lang, help, muted string }{
		{"de-CH", "Befehle:", "ist in lobby für 2 Minuten stummgeschaltet"},
		{"fr", "Commandes :", "est rendu muet dans lobby pour 2 minutes"},
		{"it", "Comandi:", "è silenziato in lobby per 2 minuti"},
		{"xx", "Commands:", "is muted in lobby for 2 minutes"},
	}
	for _, tc := range cases {
		res, err := svc.Hello(ctx, Caller{ID: "3", Lang: tc.lang})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Join(ctx, Caller{ID: "3"}, "lobby"); err != nil {
			t.Fatal(err)
		}
		for _, cmd := range []string{"/help", "/mute 2 2", "/unmute 2"} {
			if _, err := svc.Send(ctx, Caller{ID: "3"}, SendParams{Room: "lobby", Text: cmd}); err != nil {
				t.Fatalf("%s: %v", cmd, err)
			}
		}
		var got []string
		for _, raw := range svc.Poll(Caller{ID: "3"}, res.Cursor, 0, nil).Events {
			var e struct{ Type, Text string }
			json.Unmarshal(raw, &e)
			if e.Type == "system_message" {
				got = append(got, e.Text)
			}
		}
		if len(got) < 2 || !strings.HasPrefix(got[0], tc.help) || !strings.Contains(got[1], tc.muted) {
			t.Errorf("lang %s: texts %q; want %q… and …%q", tc.lang, got, tc.help, tc.muted)
		}
	}
	if normLang("EN_us") != "en" || normLang("") != "" || normLang("pt") != "" {
		t.Error("normLang")
	}
}
