// Package notify sends the notices of missed messages (issue 15.3,
// docs/protocol.md section 6, "Missed-message notices"): it claims due
// notices from the store's outbox, checks at send time that their messages
// are still unread and their recipient still offline, and POSTs one signed
// JSON body per recipient to notify.url, with retries and backoff.
//
// It knows nothing of chat: what it asks of the running chat (presence,
// unread counts, names) comes through the State interface.
package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"pollchat/store"
)

// Outbox is the store's queue of notices (store.Outbox).
type Outbox interface {
	ClaimDue(ctx context.Context, owner string, lease time.Duration, limit int) ([]store.Notice, error)
	Ack(ctx context.Context, n store.Notice) error
	Retry(ctx context.Context, n store.Notice, backoff time.Duration) (store.Notice, error)
}

var _ Outbox = (*store.Outbox)(nil)

// State is what the sender asks of the running chat at send time.
type State interface {
	// Online says whether user is online on any process.
	Online(user string) bool
	// Unread returns user's unread messages per conversation (no entry: 0).
	Unread(ctx context.Context, user string) (map[store.Conv]int, error)
	// Names returns the display names of ids it knows.
	Names(ctx context.Context, ids []string) map[string]string
}

// Gate remembers when each recipient was last sent a notice, shared by
// every process (the store), so that one window holds at most one.
type Gate interface {
	LastSent(ctx context.Context, user string) (time.Time, error)
	MarkSent(ctx context.Context, user string, at time.Time) error
}

// Config is the sender's setup. Zero values mean the defaults named.
type Config struct {
	URL    string // notify.url; required
	Secret string // notify.secret; required
	// Window: at most one notice per recipient per window; zero means 10m.
	Window time.Duration
	// Owner names this process in the outbox's leases; zero means a random id.
	Owner string
	// Timeout of one POST; zero means 10s. Lease is how long a claimed
	// notice stays this process's; zero means 6 × Timeout (it must outlast
	// a send).
	Timeout, Lease time.Duration
	// Tick is how often the outbox is looked at; zero means 1s.
	Tick time.Duration
	// MaxAttempts before a notice that keeps failing is dropped (logged);
	// zero means 12 (about a day of backoff).
	MaxAttempts int
	// Version goes into User-Agent: pollchat/<version>; zero means "dev".
	Version string
	// Client makes the POSTs; nil means a client with Timeout and no
	// redirects followed.
	Client *http.Client
	Log    *slog.Logger
	// Now is the clock of signatures and windows; nil means time.Now.
	Now func() time.Time
}

// Sender is the outbox's one consumer per process.
type Sender struct {
	cfg    Config
	outbox Outbox
	state  State
	gate   Gate
	client *http.Client
	log    *slog.Logger

	stop chan struct{}
	done chan struct{}
	once sync.Once
	wake chan struct{}
}

// New returns a sender; Run starts it.
func New(cfg Config, outbox Outbox, state State, gate Gate) (*Sender, error) {
	if cfg.URL == "" || cfg.Secret == "" {
		return nil, errors.New("notify: url and secret are required")
	}
	if cfg.Window <= 0 {
		cfg.Window = 10 * time.Minute
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 6 * cfg.Timeout
	}
	if cfg.Tick <= 0 {
		cfg.Tick = time.Second
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 12
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	if cfg.Owner == "" {
		cfg.Owner = "p" + randomID()
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := cfg.Client
	if c == nil {
		c = &http.Client{
			Timeout: cfg.Timeout,
			// A receiver that redirects is misconfigured; following it
			// would send the signed body elsewhere.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return &Sender{cfg: cfg, outbox: outbox, state: state, gate: gate, client: c, log: cfg.Log,
		stop: make(chan struct{}), done: make(chan struct{}), wake: make(chan struct{}, 1)}, nil
}

func randomID() string {
	n, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	return strconv.FormatInt(n.Int64(), 36)
}

// Run works the outbox until Close.
func (s *Sender) Run() {
	defer close(s.done)
	t := time.NewTicker(s.cfg.Tick)
	defer t.Stop()
	for {
		s.Work(context.Background())
		select {
		case <-s.stop:
			return
		case <-t.C:
		case <-s.wake:
		}
	}
}

// Wake makes Run look at the outbox now.
func (s *Sender) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Close stops Run and waits for it (idempotent). A send under way finishes
// first; a notice claimed and not acked is due again when its lease ends.
func (s *Sender) Close() {
	s.once.Do(func() { close(s.stop) })
	<-s.done
}

// Work claims the due notices, one batch, and handles them; it returns
// how many notices were sent.
func (s *Sender) Work(ctx context.Context) int {
	claimed, err := s.outbox.ClaimDue(ctx, s.cfg.Owner, s.cfg.Lease, 100)
	if err != nil {
		s.log.Warn("notify: cannot read the outbox", "err", err)
	}
	// A recipient's notices claimed together go out as one.
	byUser := map[string][]store.Notice{}
	var order []string
	for _, n := range claimed {
		if byUser[n.Recipient] == nil {
			order = append(order, n.Recipient)
		}
		byUser[n.Recipient] = append(byUser[n.Recipient], n)
	}
	sent := 0
	for _, u := range order {
		select {
		case <-s.stop:
			return sent // the leases end and another process (or we) take them again
		default:
		}
		if s.handle(ctx, u, byUser[u]) {
			sent++
		}
	}
	return sent
}

// outcome of one POST.
type outcome int

const (
	delivered outcome = iota
	refused           // permanent: 4xx other than 408 and 429
	failed            // retry later
)

func (s *Sender) handle(ctx context.Context, user string, ns []store.Notice) bool {
	sort.Slice(ns, func(i, j int) bool { return ns[i].ID < ns[j].ID })
	now := s.cfg.Now()
	if s.gate != nil {
		last, err := s.gate.LastSent(ctx, user)
		if err != nil {
			s.retryAll(ctx, ns, s.backoff(ns[0].Attempts))
			return false
		}
		if wait := last.Add(s.cfg.Window).Sub(now); wait > 0 {
			// One notice per window: hold these until it ends; claimed
			// together then, they go out as one.
			s.retryAll(ctx, ns, wait)
			return false
		}
	}
	if s.state.Online(user) {
		s.ackAll(ctx, ns, "recipient online")
		return false
	}
	unread, err := s.state.Unread(ctx, user)
	if err != nil {
		s.retryAll(ctx, ns, s.backoff(ns[0].Attempts))
		return false
	}
	body, ok := s.body(ctx, user, ns, unread)
	if !ok {
		s.ackAll(ctx, ns, "read meanwhile")
		return false
	}
	switch res := s.post(ctx, "n"+strconv.FormatInt(ns[0].ID, 36), body); res {
	case delivered:
		if s.gate != nil {
			if err := s.gate.MarkSent(ctx, user, now); err != nil {
				s.log.Warn("notify: cannot record a sent notice", "err", err)
			}
		}
		s.ackAll(ctx, ns, "")
		return true
	case refused:
		s.ackAll(ctx, ns, "refused by the receiver")
	default:
		if ns[0].Attempts >= s.cfg.MaxAttempts {
			s.ackAll(ctx, ns, "gave up after "+strconv.Itoa(ns[0].Attempts)+" attempts")
			return false
		}
		s.retryAll(ctx, ns, s.backoff(ns[0].Attempts))
	}
	return false
}

// backoff after the attempt-th failure: 10s doubling to 4h, ±20 % jitter.
func (s *Sender) backoff(attempt int) time.Duration {
	d := 10 * time.Second
	for i := 1; i < attempt && d < 4*time.Hour; i++ {
		d *= 2
	}
	if d > 4*time.Hour {
		d = 4 * time.Hour
	}
	j, err := rand.Int(rand.Reader, big.NewInt(int64(d/5)+1))
	if err != nil {
		return d
	}
	return d - d/10 + time.Duration(j.Int64())
}

func (s *Sender) ackAll(ctx context.Context, ns []store.Notice, why string) {
	for _, n := range ns {
		if why != "" {
			s.log.Info("notify: notice dropped", "notice", n.ID, "user_id", n.Recipient, "why", why)
		}
		if err := s.outbox.Ack(ctx, n); err != nil {
			s.log.Warn("notify: cannot ack a notice", "notice", n.ID, "err", err)
		}
	}
}

func (s *Sender) retryAll(ctx context.Context, ns []store.Notice, after time.Duration) {
	for _, n := range ns {
		if _, err := s.outbox.Retry(ctx, n, after); err != nil {
			s.log.Warn("notify: cannot hand a notice back", "notice", n.ID, "err", err)
		}
	}
}

// Body is the JSON of a notice (docs/protocol.md).
type Body struct {
	ID            string         `json:"id"`
	Type          string         `json:"type"`
	UserID        string         `json:"user_id"`
	Count         int            `json:"count"`
	Senders       []SenderInfo   `json:"senders"`
	Conversations []Conversation `json:"conversations"`
	Excerpt       string         `json:"excerpt"`
	FirstTS       string         `json:"first_ts"`
	LastTS        string         `json:"last_ts"`
}

// SenderInfo is one sender of a notice; UserID nil is a system message.
type SenderInfo struct {
	UserID *string `json:"user_id"`
	Name   string  `json:"name,omitempty"`
}

// Conversation is one conversation a notice covers.
type Conversation struct {
	With          string `json:"with,omitempty"`
	System        bool   `json:"system,omitempty"`
	Count         int    `json:"count"`
	LastMessageID int64  `json:"last_message_id"`
}

// MaxSenders and MaxExcerpt bound a notice's body.
const (
	MaxSenders = 10
	MaxExcerpt = 140 // characters
)

// body builds the notice of ns from what is still unread; ok is false
// when nothing is.
func (s *Sender) body(ctx context.Context, user string, ns []store.Notice, unread map[store.Conv]int) ([]byte, bool) {
	var items []store.NoticeItem
	extra := 0 // messages merged in beyond the items kept
	for _, n := range ns {
		items = append(items, n.Items...)
		extra += n.Count - len(n.Items)
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].MessageID < items[j].MessageID })
	// Per conversation, the newest unread-many items are still unread.
	left := map[store.Conv]int{}
	for c, u := range unread {
		left[c] = u
	}
	var keep []store.NoticeItem
	for i := len(items) - 1; i >= 0; i-- {
		it := items[i]
		if left[it.Conv] > 0 {
			left[it.Conv]--
			keep = append(keep, it) // newest first
		}
	}
	if len(keep) == 0 {
		return nil, false
	}
	count := len(keep)
	if extra > 0 {
		// Older messages beyond the items kept count while their
		// conversation still has that many unread.
		for _, c := range keep {
			if left[c.Conv] > 0 {
				add := min(extra, left[c.Conv])
				count += add
				extra -= add
				left[c.Conv] -= add
			}
		}
	}
	b := Body{ID: "n" + strconv.FormatInt(ns[0].ID, 36), Type: "unread", UserID: user, Count: count,
		Senders: []SenderInfo{}, Conversations: []Conversation{}}
	seen := map[string]bool{}
	var ids []string
	convAt := map[store.Conv]int{}
	for _, it := range keep {
		if !seen[it.From] && len(seen) < MaxSenders {
			seen[it.From] = true
			if it.From != "" {
				ids = append(ids, it.From)
			}
		}
		if i, ok := convAt[it.Conv]; ok {
			b.Conversations[i].Count++
			continue
		}
		convAt[it.Conv] = len(b.Conversations)
		c := Conversation{Count: 1, LastMessageID: it.MessageID}
		if peer := it.Conv.Peer(user); peer != "" {
			c.With = peer
		} else {
			c.System = true
		}
		b.Conversations = append(b.Conversations, c)
	}
	names := map[string]string{}
	if len(ids) > 0 {
		names = s.state.Names(ctx, ids)
	}
	done := map[string]bool{}
	for _, it := range keep {
		if done[it.From] || !seen[it.From] {
			continue
		}
		done[it.From] = true
		if it.From == "" {
			b.Senders = append(b.Senders, SenderInfo{})
			continue
		}
		id := it.From
		b.Senders = append(b.Senders, SenderInfo{UserID: &id, Name: names[id]})
	}
	b.Excerpt = cut(keep[0].Excerpt, MaxExcerpt)
	b.LastTS = keep[0].TS.UTC().Format(time.RFC3339)
	b.FirstTS = keep[len(keep)-1].TS.UTC().Format(time.RFC3339)
	out, err := json.Marshal(b)
	if err != nil {
		return nil, false
	}
	return out, true
}

// cut keeps the first max characters of s.
func cut(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	return string(r[:max])
}

// Sign is the X-Pollchat-Signature of body signed at ts (Unix seconds).
func Sign(secret string, ts int64, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.FormatInt(ts, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func (s *Sender) post(ctx context.Context, id string, body []byte) outcome {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.URL, bytes.NewReader(body))
	if err != nil {
		s.log.Error("notify: bad notify.url", "err", err)
		return failed
	}
	ts := s.cfg.Now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "pollchat/"+s.cfg.Version)
	req.Header.Set("X-Pollchat-Notice", id)
	req.Header.Set("X-Pollchat-Timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("X-Pollchat-Signature", Sign(s.cfg.Secret, ts, body))
	resp, err := s.client.Do(req)
	if err != nil {
		s.log.Warn("notify: notice not delivered", "notice", id, "err", err)
		return failed
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return delivered
	case c == http.StatusRequestTimeout || c == http.StatusTooManyRequests || c >= 500:
		s.log.Warn("notify: the receiver failed; retrying later", "notice", id, "status", c)
		return failed
	default:
		s.log.Warn("notify: the receiver refused a notice", "notice", id, "status", c)
		return refused
	}
}

// RecordsGate is the Gate kept in the store's records (kind "noticesent",
// one per recipient: Unix milliseconds).
type RecordsGate struct{ R store.Records }

const kindSent = "noticesent"

// LastSent implements Gate.
func (g RecordsGate) LastSent(ctx context.Context, user string) (time.Time, error) {
	rec, found, err := g.R.GetRecord(ctx, kindSent, user)
	if err != nil || !found {
		return time.Time{}, err
	}
	ms, perr := strconv.ParseInt(string(rec.Val), 10, 64)
	if perr != nil {
		return time.Time{}, fmt.Errorf("notify: bad sent mark of %q: %w", user, perr)
	}
	return time.UnixMilli(ms), nil
}

// MarkSent implements Gate.
func (g RecordsGate) MarkSent(ctx context.Context, user string, at time.Time) error {
	return g.R.PutRecord(ctx, kindSent, user, []byte(strconv.FormatInt(at.UnixMilli(), 10)))
}
