package store_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"pollchat/internal/testsvc"
	"pollchat/store"
	"pollchat/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(testsvc.Main(m)) }

const testPrefix = "pc_"

func openMySQL(t *testing.T, dsn string) (store.Store, error) {
	return store.OpenMySQL(context.Background(), dsn, testPrefix, store.MySQLOptions{})
}

func mysqlDSN(t *testing.T) string { return testsvc.SharedMariaDB(t).NewDatabase(t) }

func TestMySQL(t *testing.T) {
	storetest.Run(t, storetest.SameData(mysqlDSN, openMySQL))
}

func TestMySQLOpenErrors(t *testing.T) {
	db := testsvc.SharedMariaDB(t)
	tests := []struct {
		name, dsn, prefix string
		unavailable       bool
	}{
		{"bad dsn", "not a dsn", "p_", false},
		{"no database", db.DSN(""), "p_", false},
		{"bad prefix", db.NewDatabase(t), "p-x", false},
		{"nobody listening", fmt.Sprintf("root@tcp(127.0.0.1:%d)/x", testsvc.FreePort(t)), "p_", true},
	}
	for _, tt := range tests {
		s, err := store.OpenMySQL(context.Background(), tt.dsn, tt.prefix, store.MySQLOptions{Timeout: 2 * time.Second})
		if err == nil {
			s.Close()
			t.Errorf("OpenMySQL(%s) = nil error; want one", tt.name)
			continue
		}
		if errors.Is(err, store.ErrUnavailable) != tt.unavailable {
			t.Errorf("OpenMySQL(%s) = %v; want ErrUnavailable %v", tt.name, err, tt.unavailable)
		}
	}
}

// Migrations run twice, and by several processes at once, leave one schema.
func TestMySQLMigrate(t *testing.T) {
	dsn := mysqlDSN(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 4)
	stores := make([]*store.MySQL, 4)
	for i := range stores {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			stores[i], errs[i] = store.OpenMySQL(ctx, dsn, testPrefix, store.MySQLOptions{})
		}(i)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("concurrent OpenMySQL #%d = %v", i, err)
		}
		defer stores[i].Close()
	}
	m := store.Message{From: "a", To: "b", Text: "kept across migrations"}
	if _, err := stores[0].SaveMessage(ctx, &m); err != nil {
		t.Fatal(err)
	}
	again, err := store.OpenMySQL(ctx, dsn, testPrefix, store.MySQLOptions{})
	if err != nil {
		t.Fatalf("OpenMySQL again = %v", err)
	}
	defer again.Close()
	vs, err := again.SchemaVersions(ctx)
	if err != nil || fmt.Sprint(vs) != "[1 2 3]" {
		t.Errorf("SchemaVersions() = %v, %v; want [1 2 3]", vs, err)
	}
	// A migration cut short after its ALTER TABLEs re-runs cleanly: forget
	// version 2 and open again.
	if _, err := again.DB().ExecContext(ctx, "DELETE FROM "+testPrefix+"migrations WHERE version = 2"); err != nil {
		t.Fatal(err)
	}
	rerun, err := store.OpenMySQL(ctx, dsn, testPrefix, store.MySQLOptions{})
	if err != nil {
		t.Fatalf("OpenMySQL re-running migration 2 = %v; want it applied again harmlessly", err)
	}
	rerun.Close()
	hist, _, err := again.History(ctx, m.Conv(), 0, 10)
	if err != nil || len(hist) != 1 || hist[0].ID != m.ID {
		t.Errorf("History after second migration = %+v, %v; want the message", hist, err)
	}
	// Another prefix in the same database is another store.
	other, err := store.OpenMySQL(ctx, dsn, "other_", store.MySQLOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	hist, _, err = other.History(ctx, m.Conv(), 0, 10)
	if err != nil || len(hist) != 0 {
		t.Errorf("History with prefix other_ = %+v, %v; want none", hist, err)
	}
	var coll string
	if err := again.DB().QueryRowContext(ctx, "SELECT TABLE_COLLATION FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?", testPrefix+"messages").Scan(&coll); err != nil || !strings.HasPrefix(coll, "utf8mb4") {
		t.Errorf("collation of %smessages = %q, %v; want utf8mb4", testPrefix, coll, err)
	}
}

// Big messages are split over several INSERT statements, each well under
// max_allowed_packet, and still land in one transaction.
func TestMySQLBigMessages(t *testing.T) {
	s, err := store.OpenMySQL(context.Background(), mysqlDSN(t), testPrefix, store.MySQLOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	big := strings.Repeat("😀", 16000) // 64000 bytes, the largest text
	data := json.RawMessage(`{"blob":"` + strings.Repeat("x", 3<<20) + `"}`)
	msgs := []*store.Message{{From: "a", To: "b", Text: "with data", Data: data}}
	for i := 0; i < 60; i++ {
		msgs = append(msgs, &store.Message{From: "a", To: "b", Text: big})
	}
	created, err := s.SaveMessages(context.Background(), msgs)
	if err != nil || len(created) != len(msgs) {
		t.Fatalf("SaveMessages(%d big messages) = %v; want all saved", len(msgs), err)
	}
	got, err := s.Export(context.Background(), "", 0, 1000)
	if err != nil || len(got) != len(msgs) {
		t.Fatalf("Export() = %d messages, %v; want %d", len(got), err, len(msgs))
	}
	if string(got[0].Data) != string(data) || got[1].Text != big || got[60].Text != big {
		t.Errorf("big messages not kept verbatim (data %d bytes, text %d bytes)", len(got[0].Data), len(got[1].Text))
	}
	// Import of the same in a fresh store goes in chunks too.
	s2, err := store.OpenMySQL(context.Background(), mysqlDSN(t), testPrefix, store.MySQLOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if n, err := s2.ImportMessages(context.Background(), got); err != nil || n != len(got) {
		t.Errorf("ImportMessages(big) = %d, %v; want %d", n, err, len(got))
	}
}

// Two processes (two stores on one database) get the same sends at once,
// as when a load balancer sends a retry to another process: each client id
// makes one message.
func TestMySQLDedupAcrossProcesses(t *testing.T) {
	dsn := mysqlDSN(t)
	ctx := context.Background()
	var procs [2]*store.MySQL
	for i := range procs {
		s, err := store.OpenMySQL(ctx, dsn, testPrefix, store.MySQLOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		procs[i] = s
	}
	const keys, tries = 40, 4
	var mu sync.Mutex
	idsOf := map[string]map[int64]bool{}
	created := map[string]int{}
	var wg sync.WaitGroup
	for k := 0; k < keys; k++ {
		for j := 0; j < tries; j++ {
			wg.Add(1)
			go func(k, j int) {
				defer wg.Done()
				cid := fmt.Sprint("cid-", k)
				m := store.Message{From: fmt.Sprint("u", k%3), To: "z", Text: fmt.Sprint(k, "/", j), ClientID: cid}
				c, err := procs[j%2].SaveMessage(ctx, &m)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					t.Errorf("SaveMessage(%s) = %v", cid, err)
					return
				}
				if idsOf[cid] == nil {
					idsOf[cid] = map[int64]bool{}
				}
				idsOf[cid][m.ID] = true
				if c {
					created[cid]++
				}
			}(k, j)
		}
	}
	wg.Wait()
	for k := 0; k < keys; k++ {
		cid := fmt.Sprint("cid-", k)
		if len(idsOf[cid]) != 1 || created[cid] != 1 {
			t.Errorf("client id %s sent %d times through 2 stores: ids %v, created %d; want 1 id, created once", cid, tries, idsOf[cid], created[cid])
		}
	}
	all, err := procs[0].Export(ctx, "", 0, 10000)
	if err != nil || len(all) != keys {
		t.Errorf("Export() = %d messages, %v; want %d", len(all), err, keys)
	}
}

// The hot queries are index lookups: EXPLAIN names the index and never a
// full scan.
func TestMySQLExplain(t *testing.T) {
	s, err := store.OpenMySQL(context.Background(), mysqlDSN(t), testPrefix, store.MySQLOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	for i := 0; i < 300; i++ {
		m := store.Message{From: fmt.Sprint("u", i%10), To: fmt.Sprint("u", (i+1)%10), Text: "x"}
		if i%3 == 0 {
			m = store.Message{From: fmt.Sprint("u", i%10), Room: fmt.Sprint("room", i%4), Text: "y"}
		}
		if _, err := s.SaveMessage(ctx, &m); err != nil {
			t.Fatal(err)
		}
		if err := s.SaveRequest(ctx, store.Request{From: fmt.Sprint("u", i), To: fmt.Sprint("u", i%10), Text: "r"}); err != nil {
			t.Fatal(err)
		}
		if _, err := store.NewOutbox(s).Enqueue(ctx, fmt.Sprint("u", i), store.NoticeItem{MessageID: m.ID}, time.Duration(i)*time.Second); err != nil {
			t.Fatal(err)
		}
		if err := store.NewBans(s).Ban(ctx, store.Ban{UserID: fmt.Sprint("u", i), By: "m"}); err != nil {
			t.Fatal(err)
		}
	}
	p := testPrefix
	tests := []struct {
		name, query, wantKey string
		args                 []any
	}{
		{"history page", "SELECT * FROM " + p + "messages WHERE conv = ? AND id < ? ORDER BY id DESC LIMIT 51", "conv_id", []any{"d:u1,u2", 200}},
		{"unread count", "SELECT COUNT(*) FROM (SELECT 1 FROM " + p + "messages WHERE conv = ? AND id > ? AND from_id <> ? LIMIT 999) u", "conv_id", []any{"d:u1,u2", 10, "u1"}},
		{"pending requests", "SELECT from_id, text, ts FROM " + p + "requests WHERE to_id = ? ORDER BY ts, from_id", "to_ts", []any{"u3"}},
		{"conversation list", "SELECT conv, last_id FROM " + p + "user_convs WHERE user_id = ? ORDER BY last_id DESC LIMIT 50", "user_last", []any{"u3"}},
		{"room last message", "SELECT * FROM " + p + "messages WHERE conv = ? ORDER BY id DESC LIMIT 1", "conv_id", []any{"r:room1"}},
		// Prune's statement, with its parameter as Prune sends it (whole microseconds).
		{"prune", "DELETE FROM " + p + "messages WHERE ts < ? ORDER BY ts LIMIT 500", "ts", []any{time.Now().Add(-time.Hour).UTC().Truncate(time.Microsecond)}},
		// Records: the outbox's due scan, the typed stores' reads and lists.
		{"due records", "SELECT k, val, rev, at FROM " + p + "records WHERE kind = ? AND at BETWEEN 1 AND ? ORDER BY at, k LIMIT 100", "kind_at", []any{"outbox", time.Now().UnixMilli()}},
		{"get record", "SELECT k, val, rev, at FROM " + p + "records WHERE kind = ? AND k = ?", "PRIMARY", []any{"ban", "u3"}},
		{"list records", "SELECT k, val, rev, at FROM " + p + "records WHERE kind = ? AND k > ? AND k < ? ORDER BY k LIMIT 500", "PRIMARY", []any{"hidden", []byte("u3,"), []byte("u3-")}},
		{"swap record", "UPDATE " + p + "records SET val = ?, at = ?, rev = rev + 1 WHERE kind = ? AND k = ? AND rev = ?", "PRIMARY", []any{[]byte("x"), 5, "outbox", "u3,1", 3}},
		{"user's messages", "SELECT * FROM " + p + "messages WHERE from_id = ? AND id > ? ORDER BY id LIMIT 500", "from_id", []any{"u3", 0}},
	}
	for _, tt := range tests {
		rows := explain(t, s.DB(), tt.query, tt.args...)
		found := false
		for _, r := range rows {
			if r["type"] == "ALL" && !strings.HasPrefix(r["table"], "<derived") {
				t.Errorf("EXPLAIN %s = %v; want no full scan", tt.name, r)
			}
			if r["key"] == tt.wantKey {
				found = true
			}
		}
		if !found {
			t.Errorf("EXPLAIN %s = %v; want key %s", tt.name, rows, tt.wantKey)
		}
		t.Logf("EXPLAIN %s: %v", tt.name, rows)
	}
}

func explain(t *testing.T, db *sql.DB, q string, args ...any) []map[string]string {
	t.Helper()
	rows, err := db.Query("EXPLAIN "+q, args...)
	if err != nil {
		t.Fatalf("EXPLAIN %s: %v", q, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []map[string]string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		r := map[string]string{}
		for i, c := range cols {
			r[c] = vals[i].String
		}
		out = append(out, r)
	}
	return out
}

// MariaDB killed (SIGKILL) in the middle of a burst of concurrent sends:
// every acknowledged send is there afterwards, every other one returned
// ErrUnavailable, and the same store works again once MariaDB is back.
func TestMySQLKilledDuringBurst(t *testing.T) {
	srv := testsvc.NewMariaDB(t)
	srv.Exec(t, "", "CREATE DATABASE pc CHARACTER SET utf8mb4")
	ctx := context.Background()
	s, err := store.OpenMySQL(ctx, srv.DSN("pc"), testPrefix, store.MySQLOptions{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	type result struct {
		text string
		id   int64
		err  error
	}
	const senders, perSender = 32, 40
	results := make(chan result, senders*perSender)
	var wg sync.WaitGroup
	var sent sync.WaitGroup
	sent.Add(senders * 5)
	for w := 0; w < senders; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < perSender; i++ {
				m := store.Message{From: fmt.Sprint("s", w), Room: "lobby", Text: fmt.Sprintf("%d/%d", w, i), ClientID: fmt.Sprintf("c%d-%d", w, i)}
				_, err := s.SaveMessage(ctx, &m)
				results <- result{m.Text, m.ID, err}
				if i < 5 {
					sent.Done()
				}
			}
		}(w)
	}
	sent.Wait() // some sends made it before the kill
	srv.Kill()
	if err := s.Ping(ctx); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Ping() with MariaDB killed = %v; want ErrUnavailable", err)
	}
	wg.Wait()
	close(results)

	var ok []result
	failed := 0
	for r := range results {
		switch {
		case r.err == nil:
			ok = append(ok, r)
		case errors.Is(r.err, store.ErrUnavailable):
			failed++
		default:
			t.Errorf("SaveMessage(%s) = %v; want nil or ErrUnavailable", r.text, r.err)
		}
	}
	if len(ok) < senders*5 || failed == 0 {
		t.Errorf("burst: %d acknowledged, %d failed; want at least %d acknowledged and some failed", len(ok), failed, senders*5)
	}
	_, _, err = s.History(ctx, store.RoomConv("lobby"), 0, 10)
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("History() with MariaDB down = %v; want ErrUnavailable", err)
	}

	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	var perr error
	for i := 0; i < 100; i++ {
		if perr = s.Ping(ctx); perr == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if perr != nil {
		t.Fatalf("Ping() after MariaDB restart = %v; want nil", perr)
	}
	after := store.Message{From: "x", Room: "lobby", Text: "after restart"}
	if _, err := s.SaveMessage(ctx, &after); err != nil {
		t.Fatalf("SaveMessage after restart = %v", err)
	}
	all := map[int64]string{}
	var next int64
	for i := 0; i < 100; i++ {
		page, err := s.Export(ctx, store.RoomConv("lobby"), next, 500)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, m := range page {
			all[m.ID] = m.Text
		}
		next = page[len(page)-1].ID
	}
	for _, r := range ok {
		if all[r.id] != r.text {
			t.Errorf("acknowledged message %d %q: after restart %q; want it kept", r.id, r.text, all[r.id])
		}
	}
	if all[after.ID] != after.Text {
		t.Errorf("message after restart missing")
	}
	// A clean stop and start keeps everything too.
	srv.Stop()
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	var n int
	for i := 0; i < 100; i++ {
		var page []store.Message
		page, err = s.Export(ctx, "", 0, 100000)
		if err == nil {
			n = len(page)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil || n != len(all) {
		t.Errorf("after stop/start Export() = %d messages, %v; want %d", n, err, len(all))
	}
}

// MariaDB frozen (SIGSTOP: connections open, nothing answers): calls fail
// with ErrUnavailable instead of hanging, and work again after SIGCONT.
func TestMySQLFrozen(t *testing.T) {
	srv := testsvc.NewMariaDB(t)
	srv.Exec(t, "", "CREATE DATABASE pc CHARACTER SET utf8mb4")
	ctx := context.Background()
	s, err := store.OpenMySQL(ctx, srv.DSN("pc"), testPrefix, store.MySQLOptions{Timeout: time.Second, DialTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	before := store.Message{From: "a", To: "b", Text: "before"}
	if _, err := s.SaveMessage(ctx, &before); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(srv.Dir, "mariadbd.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	cont := sync.OnceFunc(func() { syscall.Kill(pid, syscall.SIGCONT) })
	defer cont()
	// kill returns before the process has stopped: wait for state T.
	for i := 0; i < 200 && !stopped(pid); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if !stopped(pid) {
		t.Fatalf("mariadbd %d did not stop after SIGSTOP", pid)
	}

	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			m := store.Message{From: "a", To: "b", Text: fmt.Sprint("frozen ", i), ClientID: fmt.Sprint("f", i)}
			_, errs[i] = s.SaveMessage(ctx, &m)
		}(i)
	}
	wg.Wait()
	for i, err := range errs {
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("SaveMessage #%d with MariaDB frozen = %v; want ErrUnavailable", i, err)
		}
	}
	if _, _, err := s.History(ctx, before.Conv(), 0, 10); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("History() with MariaDB frozen = %v; want ErrUnavailable", err)
	}
	if err := s.Ping(ctx); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Ping() with MariaDB frozen = %v; want ErrUnavailable", err)
	}
	cont()
	var perr error
	for i := 0; i < 100; i++ {
		if perr = s.Ping(ctx); perr == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if perr != nil {
		t.Fatalf("Ping() after SIGCONT = %v", perr)
	}
	// Frozen sends may or may not have landed (not acknowledged); retrying
	// them with their client ids makes exactly one of each.
	for i := range errs {
		m := store.Message{From: "a", To: "b", Text: fmt.Sprint("frozen ", i), ClientID: fmt.Sprint("f", i)}
		if _, err := s.SaveMessage(ctx, &m); err != nil {
			t.Fatalf("retry SaveMessage #%d after SIGCONT = %v", i, err)
		}
	}
	hist, _, err := s.History(ctx, before.Conv(), 0, 100)
	if err != nil || len(hist) != 1+len(errs) {
		t.Errorf("History() after retries = %d messages, %v; want %d", len(hist), err, 1+len(errs))
	}
}

// stopped says whether every thread of process pid is stopped.
func stopped(pid int) bool {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
	if err != nil || len(tasks) == 0 {
		return false
	}
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			return false
		}
		// The state follows the command name in parentheses.
		i := strings.LastIndexByte(string(b), ')')
		if i < 0 || i+2 >= len(b) || (b[i+2] != 'T' && b[i+2] != 't') {
			return false
		}
	}
	return true
}

// Moving from the embedded store to MySQL: export everything, import it,
// and the MySQL store answers the same.
func TestEmbeddedToMySQL(t *testing.T) {
	ctx := context.Background()
	emb, err := store.OpenEmbedded(filepath.Join(t.TempDir(), "data"))
	if err != nil {
		t.Fatal(err)
	}
	defer emb.Close()
	for i := 0; i < 30; i++ {
		m := store.Message{From: fmt.Sprint("u", i%3), To: fmt.Sprint("u", (i+1)%3), Text: fmt.Sprint("direct 😀 ", i), ClientID: fmt.Sprint("c", i)}
		if i%4 == 0 {
			m = store.Message{From: fmt.Sprint("u", i%3), Room: "lobby", Text: fmt.Sprint("<b>room</b> ", i)}
		}
		if _, err := emb.SaveMessage(ctx, &m); err != nil {
			t.Fatal(err)
		}
	}
	my, err := store.OpenMySQL(ctx, mysqlDSN(t), testPrefix, store.MySQLOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer my.Close()
	var all []store.Message
	for after := int64(0); ; {
		page, err := emb.Export(ctx, "", after, 7)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		all = append(all, page...)
		after = page[len(page)-1].ID
	}
	for round, want := range []int{30, 0} {
		n, err := my.ImportMessages(ctx, all)
		if err != nil || n != want {
			t.Fatalf("ImportMessages round %d = %d, %v; want %d", round, n, err, want)
		}
	}
	for _, conv := range []store.Conv{store.DirectConv("u0", "u1"), store.DirectConv("u1", "u2"), store.RoomConv("lobby")} {
		a, _, err1 := emb.History(ctx, conv, 0, 100)
		b, _, err2 := my.History(ctx, conv, 0, 100)
		if err1 != nil || err2 != nil || fmt.Sprint(a) != fmt.Sprint(b) {
			t.Errorf("History(%s): embedded %v (%v); mysql %v (%v); want equal", conv, a, err1, b, err2)
		}
	}
	ce, _ := emb.Conversations(ctx, "u1", []string{"lobby"}, 10)
	cm, err := my.Conversations(ctx, "u1", []string{"lobby"}, 10)
	if err != nil || convString(ce) != convString(cm) {
		t.Errorf("Conversations(u1): embedded %s; mysql %s (%v); want equal", convString(ce), convString(cm), err)
	}
}

func convString(cs []store.Conversation) string {
	var b strings.Builder
	for _, c := range cs {
		fmt.Fprintf(&b, "[%s %s %d %v]", c.With, c.Room, c.Unread, c.Last)
	}
	return b.String()
}

// Two processes (two stores on one database) claim the same due notices:
// the conditional UPDATE gives each notice to exactly one of them.
func TestMySQLOutboxClaimAcrossProcesses(t *testing.T) {
	dsn := mysqlDSN(t)
	ctx := context.Background()
	var procs [2]*store.MySQL
	for i := range procs {
		s, err := store.OpenMySQL(ctx, dsn, testPrefix, store.MySQLOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		procs[i] = s
	}
	const notices = 60
	for i := 0; i < notices; i++ {
		if _, err := store.NewOutbox(procs[0]).Enqueue(ctx, fmt.Sprint("user", i), store.NoticeItem{MessageID: int64(i), From: "x"}, time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	later := func() time.Time { return time.Now().Add(time.Minute) } // past every window
	var mu sync.Mutex
	claimed := map[int64]string{}
	var wg sync.WaitGroup
	for c := 0; c < 6; c++ {
		wg.Add(1)
		go func(owner string, s *store.MySQL) {
			defer wg.Done()
			o := store.NewOutbox(s)
			o.Now = later
			for {
				got, err := o.ClaimDue(ctx, owner, time.Hour, 4)
				if err != nil {
					t.Errorf("ClaimDue(%s) = %v", owner, err)
					return
				}
				mu.Lock()
				for _, n := range got {
					if prev, ok := claimed[n.ID]; ok {
						t.Errorf("notice %d claimed by %s and %s", n.ID, prev, owner)
					}
					claimed[n.ID] = owner
				}
				mu.Unlock()
				if len(got) == 0 {
					if rest, _ := o.Due(ctx, later(), 1); len(rest) == 0 {
						return
					}
				}
			}
		}(fmt.Sprint("p", c), procs[c%2])
	}
	wg.Wait()
	if len(claimed) != notices {
		t.Errorf("%d notices claimed; want %d", len(claimed), notices)
	}
}
