package e2e

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"pollchat/internal/testsvc"
)

// MariaDB killed (SIGKILL) during a burst of sends through the binary, then
// started again: every send answered with success is in the history, every
// other one answered an error (UNAVAILABLE), parked polls kept answering,
// /healthz said 503 meanwhile, and pollchat recovered by itself.
func TestMySQLStoreSurvivesDatabaseKill(t *testing.T) {
	db := testsvc.NewMariaDB(t)
	dsn := db.NewDatabase(t)
	p := testsvc.StartPollchat(t, testsvc.Options{
		PollTimeout: "2s",
		Chat:        "rate = 0",
		Store:       fmt.Sprintf("[store]\ndriver = \"mysql\"\ndsn = %q\n", dsn),
	})
	c := testsvc.NewClient(p.URL)
	rcv := c.NewPoller(t, "4")

	type result struct {
		text string
		id   float64
		code string
	}
	var mu sync.Mutex
	var results []result
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for s := 0; s < 4; s++ {
		wg.Add(1)
		go func(s int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				text := fmt.Sprintf("s%d-%d", s, i)
				r, err := c.DoErr("GET", "/v1/send", func() map[string][]string {
					v := c.Ident("3")
					v.Set("to", "4")
					v.Set("text", text)
					return v
				}())
				res := result{text: text}
				switch {
				case err != nil:
					res.code = "TRANSPORT"
				case r.ErrorCode() != "":
					res.code = r.ErrorCode()
				default:
					var m struct {
						Message struct {
							ID float64 `json:"id"`
						} `json:"message"`
					}
					r.JSON(t, &m)
					res.id = m.Message.ID
				}
				mu.Lock()
				results = append(results, res)
				mu.Unlock()
			}
		}(s)
	}
	// Let some sends succeed, then kill the database mid-burst.
	for i := 0; i < 200; i++ {
		mu.Lock()
		n := len(results)
		mu.Unlock()
		if n >= 50 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	db.Kill()
	// While it is down: sends fail with UNAVAILABLE, healthz is 503, and a
	// parked poll still answers (no store read on the poll path).
	sawUnavailable := false
	for i := 0; i < 100 && !sawUnavailable; i++ {
		mu.Lock()
		for _, r := range results {
			sawUnavailable = sawUnavailable || r.code == "UNAVAILABLE"
		}
		mu.Unlock()
		time.Sleep(50 * time.Millisecond)
	}
	if !sawUnavailable {
		t.Fatal("no send answered UNAVAILABLE with the database down")
	}
	if r := c.Do(t, "GET", "/healthz", nil); r.Status != 503 {
		t.Fatalf("healthz with MariaDB down = %d; want 503", r.Status)
	}
	if res := rcv.Poll(t, 1); res.Reset {
		t.Fatal("a poll during the outage was reset")
	}
	if err := db.Start(); err != nil {
		t.Fatal(err)
	}
	// pollchat recovers by itself.
	recovered := false
	for i := 0; i < 150 && !recovered; i++ {
		recovered = c.Do(t, "GET", "/healthz", nil).Status == 200
		if !recovered {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if !recovered {
		t.Fatal("healthz did not come back after MariaDB restarted")
	}
	ok := false
	for i := 0; i < 100 && !ok; i++ {
		r := c.Call(t, "3", "send", "to", "4", "text", "after recovery")
		ok = r.Status == 200 && r.ErrorCode() == ""
		if !ok {
			time.Sleep(100 * time.Millisecond)
		}
	}
	close(stop)
	wg.Wait()
	if !ok {
		t.Fatal("sends did not recover")
	}
	// Every acknowledged send is stored; every failed one answered an error.
	stored := map[string]float64{}
	before := ""
	for page := 0; page < 200; page++ {
		args := []string{"with", "3", "limit", "100"}
		if before != "" {
			args = append(args, "before", before)
		}
		h := c.MustCall(t, "4", "history", args...)
		msgs := h["messages"].([]any)
		for _, m := range msgs {
			m := m.(map[string]any)
			stored[m["text"].(string)] = m["id"].(float64)
		}
		if h["has_more"] != true || len(msgs) == 0 {
			break
		}
		before = fmt.Sprint(msgs[0].(map[string]any)["id"])
	}
	acked, failed := 0, 0
	for _, r := range results {
		if r.code == "" {
			acked++
			if id, ok := stored[r.text]; !ok || id != r.id {
				t.Errorf("acknowledged send %s (id %v) is not in the history (stored id %v)", r.text, r.id, id)
			}
		} else {
			failed++
		}
	}
	if acked == 0 || failed == 0 {
		t.Fatalf("acked %d, failed %d: the kill did not land mid-burst", acked, failed)
	}
	t.Logf("%d sends acknowledged and stored, %d answered errors", acked, failed)
}
