package chat

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"pollchat/store"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// CleanText trims text and checks it: valid UTF-8, no control characters
// but newline and tab, 1..max characters.
func CleanText(text string, max int) (string, error) {
	if !utf8.ValidString(text) {
		return "", Errorf(CodeBadRequest, "text is not valid UTF-8")
	}
	for _, r := range text {
		if (r < 0x20 && r != '\n' && r != '\t' && r != '\r') || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return "", Errorf(CodeBadRequest, "text contains a control character (U+%04X)", r)
		}
	}
	t := strings.TrimFunc(text, unicode.IsSpace)
	if t == "" {
		return "", Errorf(CodeBadRequest, "text is empty")
	}
	if n := utf8.RuneCountInString(t); n > max {
		return "", Errorf(CodeTooLong, "text is %d characters; the limit is %d", n, max)
	}
	return t, nil
}

func (s *Service) room(name string) (*room, error) {
	r := s.lookupRoom(name)
	if r == nil {
		return nil, Errorf(CodeNotFound, "no room %q", name)
	}
	return r, nil
}

func validClientID(id string) error {
	if len(id) > 128 {
		return Errorf(CodeBadRequest, "client_id is longer than 128 bytes")
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x20 || id[i] == 0x7f {
			return Errorf(CodeBadRequest, "client_id contains a control character")
		}
	}
	return nil
}

// SendParams are a send's parameters: To or Room.
type SendParams struct {
	To, Room, Text, ClientID string
	// Data is stored and delivered with the message as its "data": a JSON
	// object of at most MaxSendData bytes. Only the server sets it (an
	// upload attaches its file this way); browser sends never carry it.
	Data json.RawMessage
}

// MaxSendData bounds SendParams.Data.
const MaxSendData = 8 << 10

// checkSendData accepts an empty Data or a JSON object within MaxSendData.
func checkSendData(d json.RawMessage) error {
	if len(d) == 0 {
		return nil
	}
	if len(d) > MaxSendData {
		return Errorf(CodeTooLong, "data is %d bytes; the limit is %d", len(d), MaxSendData)
	}
	t := bytes.TrimSpace(d)
	if len(t) == 0 || t[0] != '{' || !json.Valid(t) {
		return Errorf(CodeBadRequest, "data must be a JSON object")
	}
	return nil
}

// SendResult is a send's answer: the message, or Command for a room
// command (answered {ok:true}, nothing stored).
type SendResult struct {
	Message *store.Message
	Command bool
}

// Send validates and stores a message, then delivers it.
func (s *Service) Send(ctx context.Context, c Caller, p SendParams) (SendResult, error) {
	s.remember(c)
	if (p.To == "") == (p.Room == "") {
		return SendResult{}, Errorf(CodeBadRequest, "give exactly one of to and room")
	}
	if err := validClientID(p.ClientID); err != nil {
		return SendResult{}, err
	}
	if err := checkSendData(p.Data); err != nil {
		return SendResult{}, err
	}
	text, err := CleanText(p.Text, s.cfg.MaxLength)
	if err != nil {
		return SendResult{}, err
	}
	if p.Room != "" {
		r, err := s.roomFor(c, p.Room)
		if err != nil {
			return SendResult{}, err
		}
		if strings.HasPrefix(text, "/") && len(p.Data) == 0 {
			if err := s.limits.allow(c.ID); err != nil {
				return SendResult{}, err
			}
			return SendResult{Command: true}, s.command(ctx, c, r, text)
		}
		if err := s.mutedErr(r, c.ID); err != nil {
			return SendResult{}, err
		}
	} else {
		if err := checkUserID("to", p.To); err != nil {
			return SendResult{}, err
		}
		if p.To == c.ID {
			return SendResult{}, Errorf(CodeBadRequest, "cannot send a message to yourself")
		}
		if _, ok := s.User(ctx, p.To); !ok {
			return SendResult{}, Errorf(CodeNotFound, "no user %q", p.To)
		}
		// Make sure the recipient's block list is cached here (delivery
		// reads only the cache): in a cluster they may never have said
		// hello to this process.
		if !s.blocks.cached(p.To) {
			sctx, cancel := s.storeCtx(ctx)
			s.blocks.get(sctx, s.store, p.To)
			cancel()
		}
	}
	if err := s.limits.allow(c.ID); err != nil {
		return SendResult{}, err
	}
	m := &store.Message{From: c.ID, To: p.To, Room: p.Room, Text: s.mask(text), ClientID: p.ClientID, Data: p.Data}
	if err := s.commit(ctx, m); err != nil {
		return SendResult{}, err
	}
	return SendResult{Message: m}, nil
}

// Inject stores and delivers a message from the backend API: from a user
// (From set) or from the system (From empty).
func (s *Service) Inject(ctx context.Context, m *store.Message) error {
	if (m.To == "") == (m.Room == "") {
		return Errorf(CodeBadRequest, "give exactly one of to and room")
	}
	if err := checkUserID("to", m.To); err != nil {
		return err
	}
	if err := checkUserID("from", m.From); err != nil {
		return err
	}
	text, err := CleanText(m.Text, 10000)
	if err != nil {
		return err
	}
	m.Text = text
	if m.Room != "" {
		if _, err := s.room(m.Room); err != nil {
			return err
		}
	} else if _, ok := s.User(ctx, m.To); !ok {
		return Errorf(CodeNotFound, "no user %q", m.To)
	}
	if m.From != "" {
		if _, ok := s.User(ctx, m.From); !ok {
			return Errorf(CodeNotFound, "no user %q", m.From)
		}
		if m.From == m.To {
			return Errorf(CodeBadRequest, "from and to are the same user")
		}
	} else {
		m.System = true
	}
	return s.commit(ctx, m)
}

// commit hands m to the committer and waits until it is durable and
// delivered (or failed).
func (s *Service) commit(ctx context.Context, m *store.Message) error {
	if s.engine.Down() {
		// Not stored: a message that cannot be delivered live is refused
		// while the broker is down, and the client retries.
		if s.errs.count(s.engine.Ping(ctx)) != nil {
			return Errorf(CodeUnavailable, "the cluster broker is unavailable; try again shortly")
		}
	}
	cm := &commit{m: m, at: time.Now(), done: make(chan struct{})}
	select {
	case s.commits <- cm:
	case <-s.stop:
		return Errorf(CodeUnavailable, "the server is shutting down")
	case <-ctx.Done():
		return Errorf(CodeUnavailable, "gave up waiting for the store")
	}
	<-cm.done
	if cm.err != nil {
		return storeErr(cm.err)
	}
	return nil
}

type commit struct {
	m       *store.Message
	at      time.Time // when the send reached the committer's queue
	created bool
	err     error
	done    chan struct{}
}

// maxBatch bounds how many messages one commit round writes.
const maxBatch = 512

// lingerMax bounds how long a commit round waits for more sends (see
// runCommitter).
const lingerMax = time.Millisecond

// runCommitter is the one group commit of messages: it takes what sends
// arrived, writes them with one SaveMessages call (one transaction), then
// publishes them in id order before taking the next batch. So every
// stream sees messages in id order, and throughput grows with load. The
// stores do not batch messages again (docs/architecture.md, "Writes").
//
// Under a steady stream of sends a round lingers: when sends arrive less
// than lingerMax apart on average, it waits up to twice that gap (at most
// lingerMax) for more, so that one fsync, one store round trip and their
// goroutine wake-ups serve several messages (at 2,000 sends a second a
// round held one message: a write-ahead log flush and five wake-ups each;
// lingering halved the log's CPU in the direct scenario). Sends further
// apart than lingerMax, as at low load, never wait; nor does a lone sender
// that waits for each answer: lingering starts only once a round found two
// sends without waiting, and stops when a linger gained nothing.
func (s *Service) runCommitter() {
	defer close(s.stopped)
	batch := make([]*commit, 0, maxBatch)
	var (
		last      time.Time     // when the previous send arrived
		gap       time.Duration // moving average of the time between sends
		lingering bool          // a round found company without lingering, and lingering since gained
		timer     *time.Timer
	)
	arrived := func(cm *commit) {
		if !last.IsZero() {
			d := cm.at.Sub(last)
			gap += (min(max(d, 0), time.Second) - gap) / 8
		}
		last = cm.at
	}
	for {
		select {
		case cm := <-s.commits:
			batch = append(batch[:0], cm)
			arrived(cm)
		case <-s.stop:
			s.drainCommits()
			return
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case cm := <-s.commits:
				batch = append(batch, cm)
				arrived(cm)
			default:
				break fill
			}
		}
		if len(batch) >= 2 {
			lingering = true // sends arrive while commits run: batching pays
		}
		if lingering && gap > 0 && gap < lingerMax && len(batch) < maxBatch {
			wait := min(2*gap, lingerMax) - time.Since(batch[0].at)
			if wait > 0 {
				n := len(batch)
				if timer == nil {
					timer = time.NewTimer(wait)
				} else {
					timer.Reset(wait)
				}
			linger:
				for len(batch) < maxBatch {
					select {
					case cm := <-s.commits:
						batch = append(batch, cm)
						arrived(cm)
					case <-timer.C:
						break linger
					case <-s.stop:
						break linger
					}
				}
				timer.Stop()
				if len(batch) == n {
					// Nothing came: a lone sender waiting for each answer
					// would wait here every time. Linger again only after
					// a round finds company without waiting.
					lingering = false
				}
			}
		}
		s.commitRounds.Add(1)
		s.writeBatch(batch)
		slices.SortStableFunc(batch, func(a, b *commit) int { return cmp.Compare(a.m.ID, b.m.ID) })
		for _, cm := range batch {
			if cm.err == nil && cm.created {
				s.deliver(cm.m)
			}
			close(cm.done)
		}
	}
}

func (s *Service) drainCommits() {
	for {
		select {
		case cm := <-s.commits:
			cm.err = store.ErrClosed
			close(cm.done)
		default:
			return
		}
	}
}

func (s *Service) writeBatch(batch []*commit) {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.StoreTimeout)
	defer cancel()
	if bs, ok := s.store.(store.BatchSaver); ok {
		msgs := make([]*store.Message, len(batch))
		for i, cm := range batch {
			msgs[i] = cm.m
		}
		created, err := bs.SaveMessages(ctx, msgs)
		for i, cm := range batch {
			cm.err = err
			if err == nil {
				cm.created = created[i]
			}
		}
		return
	}
	if len(batch) == 1 {
		batch[0].created, batch[0].err = s.store.SaveMessage(ctx, batch[0].m)
		return
	}
	var wg sync.WaitGroup
	wg.Add(len(batch))
	for _, cm := range batch {
		go func(cm *commit) {
			defer wg.Done()
			cm.created, cm.err = s.store.SaveMessage(ctx, cm.m)
		}(cm)
	}
	wg.Wait()
}

// deliver publishes a stored message to its recipients, all at once (one
// round trip to the broker in cluster mode).
func (s *Service) deliver(m *store.Message) {
	s.sends.Add(1)
	ev := messageEvent(m)
	var to []string
	if m.Room != "" {
		r := s.lookupRoom(m.Room)
		if r == nil {
			return
		}
		members := r.snapshot()
		to = make([]string, 0, len(members))
		for _, u := range members {
			if m.From != "" && u != m.From && s.blocks.blocks(u, m.From) {
				continue
			}
			to = append(to, u)
		}
	} else {
		to = make([]string, 0, 2)
		if m.From != "" {
			to = append(to, m.From)
			s.hub.AddContact(m.From, m.To)
		}
		if m.From == "" || !s.blocks.blocks(m.To, m.From) {
			to = append(to, m.To)
			if s.notices != nil { // the copy escapes: only when notices run
				cp := *m
				s.queueNotice(noticeJob{msg: &cp})
			}
		}
	}
	if _, err := s.hub.PublishMany(to, keyOf(m.From, m.To, m.Room), ev); err != nil {
		s.log.Warn("chat: message stored but not delivered live (engine down); clients see it on their next hello", "id", m.ID, "err", err)
	}
}

// UserOnline says whether user is online on any process.
func (s *Service) UserOnline(user string) bool { return s.hub.Online(user) }
