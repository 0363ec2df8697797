package chat

import (
	"context"
	"testing"
)

func TestBannedWordsMasked(t *testing.T) {
	m := newWordMask([]string{"darn", " ", "c++", "дурак"})
	cases := map[string]string{
		"Darn it":       "**** it",
		"darned":        "darned",
		"I like c++!":   "I like ***!",
		"ты дурак!":     "ты *****!",
		"дураки":        "дураки",
		"nothing here":  "nothing here",
		"darn_it darn.": "darn_it ****.",
	}
	for in, want := range cases {
		if got := m.mask(in); got != want {
			t.Errorf("mask(%q) = %q; want %q", in, got, want)
		}
	}
	if newWordMask([]string{" ", ""}) != nil {
		t.Error("newWordMask of blanks = non-nil; want nil")
	}
	svc := newTestService(t, Config{BannedWords: []string{"darn"}})
	res, err := svc.Send(context.Background(), Caller{ID: "1"}, SendParams{To: "2", Text: "oh darn"})
	if err != nil || res.Message.Text != "oh ****" {
		t.Fatalf("Send = %+v, %v; want the word masked in the stored message", res, err)
	}
}
