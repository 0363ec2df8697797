package chat

import (
	"context"
	"errors"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/patrickmn/go-cache"

	"pollchat/bridge"
	"pollchat/config"
	"pollchat/store"
)

// Directory is what the service needs of the user directory (bridge.Directory).
type Directory interface {
	Get(ctx context.Context, id string) (bridge.User, error)
	GetMany(ctx context.Context, ids []string) (map[string]bridge.User, error)
	// Invalidate drops ids from the directory's cache.
	Invalidate(ids ...string)
}

// Config configures a Service. Zero values mean the defaults of docs/protocol.md.
type Config struct {
	// Rooms everyone may join; nil means ["lobby"].
	Rooms []string
	// MaxLength of a message in characters after trimming; zero means 350.
	MaxLength int
	// History is how many messages join answers; zero means 50.
	History int
	// Rate is sends and requests per second per user; 0 turns limits off.
	Rate float64
	// Burst of the rate limit; zero means 20.
	Burst int
	// Buffer is the events kept per stream; zero means 256.
	Buffer int
	// RoomEventsLimit: larger rooms get no join/leave/presence events; zero
	// means 500.
	RoomEventsLimit int
	// Grace keeps users online after their last poll; zero means 40s.
	Grace time.Duration
	// BannedWords are masked with asterisks in messages.
	BannedWords []string
	// RequireKnown refuses users the directory does not know
	// (bridge.ErrUnknownUser) on every call: the mysql and http sources
	// without users.allow_unknown. False lets an identity alone make a
	// user ("User N").
	RequireKnown bool
	// StoreTimeout bounds one store call; zero means 5s.
	StoreTimeout time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Log; nil means slog.Default().
	Log *slog.Logger
	// Engine holds the streams, presence, rooms, rate limits and control
	// messages: cluster.Redis in a cluster; nil means a MemoryEngine (one
	// process). The service does not close it.
	Engine Engine
}

// Caller is the verified user making a request. Name and AvatarURL come
// from the identity (token claims, eStreamChat name/thumbUrl) and are used
// only when the directory has nothing better.
type Caller struct {
	ID        string
	Name      string
	AvatarURL string
	// With restricts the caller to the conversation with this user (the
	// popup chat page's token); empty means unrestricted. The HTTP face
	// enforces it.
	With string
}

// Service is the messenger.
type Service struct {
	cfg    Config
	hub    *Hub
	engine Engine
	errs   *engineErrors
	store  store.Store
	dir    Directory
	log    *slog.Logger
	now    func() time.Time
	banned *wordMask

	rooms     map[string]*room
	roomNames []string

	commits chan *commit
	stop    chan struct{}
	stopped chan struct{}
	once    sync.Once

	limits  limiter
	typing  *cache.Cache // sender + conversation -> nil: a typing event went out this second
	mutes   mutes
	blocks  blocks
	callers sync.Map // id -> *callerEntry: what identities said, the fallback

	sends atomic.Uint64
}

// New builds the service over a store and a directory and starts its
// goroutines (the committer and the presence reaper). Close stops them.
func New(cfg Config, st store.Store, dir Directory) (*Service, error) {
	if len(cfg.Rooms) == 0 {
		cfg.Rooms = []string{"lobby"}
	}
	cfg.MaxLength = orDefault(cfg.MaxLength, config.DefaultMaxLength)
	cfg.History = orDefault(cfg.History, config.DefaultHistory)
	cfg.Burst = orDefault(cfg.Burst, config.DefaultBurst)
	cfg.RoomEventsLimit = orDefault(cfg.RoomEventsLimit, config.DefaultRoomEventsLimit)
	cfg.Grace = orDefault(cfg.Grace, DefaultGrace)
	if cfg.StoreTimeout <= 0 {
		cfg.StoreTimeout = 5 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	s := &Service{
		cfg:     cfg,
		store:   st,
		dir:     dir,
		log:     cfg.Log,
		now:     cfg.Now,
		rooms:   make(map[string]*room, len(cfg.Rooms)),
		commits: make(chan *commit, 4096),
		stop:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	if cfg.Engine == nil {
		cfg.Engine = NewMemoryEngine(MemoryConfig{Buffer: cfg.Buffer, Grace: cfg.Grace, Now: cfg.Now})
	}
	s.engine = cfg.Engine
	s.hub = NewHub(HubConfig{Engine: cfg.Engine, Grace: cfg.Grace, Presence: s.onPresence, Control: s.Control, Now: cfg.Now})
	s.errs = s.hub.errs
	for _, name := range cfg.Rooms {
		s.rooms[name] = &room{name: name, engine: cfg.Engine, errs: s.errs}
		s.roomNames = append(s.roomNames, name)
	}
	s.banned = newWordMask(cfg.BannedWords)
	s.limits = limiter{engine: cfg.Engine, errs: s.errs, rate: cfg.Rate, burst: cfg.Burst}
	s.blocks.init()
	s.typing = cache.New(time.Second, 10*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), cfg.StoreTimeout)
	defer cancel()
	if err := s.mutes.load(ctx, st); err != nil {
		return nil, err
	}
	go s.runCommitter()
	go s.runReaper()
	return s, nil
}

// Hub returns the service's hub.
func (s *Service) Hub() *Hub { return s.hub }

// Store returns the service's store.
func (s *Service) Store() store.Store { return s.store }

// Sends returns how many messages were created.
func (s *Service) Sends() uint64 { return s.sends.Load() }

// Rooms returns the configured room names.
func (s *Service) Rooms() []string { return s.roomNames }

// Healthy says whether the store and the cluster broker answer.
func (s *Service) Healthy(ctx context.Context) error {
	if err := s.store.Ping(ctx); err != nil {
		return err
	}
	return s.engine.Ping(ctx)
}

// Control handles a control message from another process.
func (s *Service) Control(c Control) {
	switch c.Kind {
	case ControlMutes:
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.StoreTimeout)
		defer cancel()
		if err := s.mutes.load(ctx, s.store); err != nil {
			s.log.Warn("chat: reload mutes", "err", err)
		}
	case ControlCaller:
		ci := c.Caller
		s.storeCaller(bridge.User{ID: ci.ID, Name: ci.Name, AvatarURL: ci.AvatarURL, Role: bridge.RoleMember}, false)
	case ControlBlocks:
		s.blocks.forget(c.Users[0])
		ctx, cancel := s.storeCtx(context.Background())
		defer cancel()
		s.blocks.get(ctx, s.store, c.Users[0])
	case ControlInvalidate:
		s.dir.Invalidate(c.Users...)
		s.Forget(c.Users...)
	}
}

// broadcast tells the other processes (nobody for the memory engine).
func (s *Service) broadcast(c Control) {
	if !s.engine.Shared() {
		return
	}
	ctx, cancel := engineCtx()
	defer cancel()
	if err := s.errs.count(s.engine.Control(ctx, c)); err != nil {
		s.log.Warn("chat: broadcast", "kind", c.Kind, "err", err)
	}
}

// Invalidate drops users from the directory's cache and ends their parked
// polls, here and on every other process (the backend API's
// users/invalidate): a banned member is refused from their next call.
func (s *Service) Invalidate(ids ...string) {
	s.dir.Invalidate(ids...)
	s.Forget(ids...)
	s.broadcast(Control{Kind: ControlInvalidate, Users: ids})
}

// Close answers parked polls, finishes pending sends and stops the
// service's goroutines. It does not close the store. It is idempotent.
func (s *Service) Close() {
	s.once.Do(func() {
		s.hub.Close()
		close(s.stop)
		<-s.stopped
	})
}

// publish sends an event to users' streams; a failure is counted and logged.
func (s *Service) publish(users []string, ev []byte) {
	if _, err := s.hub.PublishMany(users, ev); err != nil {
		s.log.Warn("chat: event not delivered live (engine down)", "err", err)
	}
}

// storeCtx bounds a store call. It keeps ctx's values but not its
// cancellation: a fasthttp RequestCtx is not a context.cancelCtx, so
// deriving from it would start a goroutine per call (and its Done races
// with the server's shutdown); the timeout bounds the call instead.
func (s *Service) storeCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), s.cfg.StoreTimeout)
}

// storeErr maps a store failure to UNAVAILABLE.
func storeErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrClosed) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return &Error{Code: CodeUnavailable, Message: "the message store is unavailable; try again shortly", Err: err}
	}
	return &Error{Code: CodeUnavailable, Message: "the message store failed; try again shortly", Err: err}
}

// ---- users ----

// DirectoryTimeout bounds a user lookup on a request: a slow host site
// costs at most this, after which stale or identity data is used.
const DirectoryTimeout = 3 * time.Second

// callerEntry is what an identity said of its user, and when.
type callerEntry struct {
	user bridge.User
	seen atomic.Int64 // unix seconds
}

// callerTTL is how long a user's identity data is kept after their last
// request (the fallback when the directory knows nothing of them).
const callerTTL = 24 * time.Hour

// remember keeps what an identity says of its user, the fallback when the
// directory knows nothing better.
func (s *Service) remember(c Caller) {
	now := s.now().Unix()
	if v, ok := s.callers.Load(c.ID); ok {
		e := v.(*callerEntry)
		if (c.Name == "" || e.user.Name == c.Name) && (c.AvatarURL == "" || e.user.AvatarURL == c.AvatarURL) {
			if e.seen.Load() != now {
				e.seen.Store(now)
			}
			return
		}
	}
	name := c.Name
	if name == "" {
		name = "User " + c.ID
	}
	s.storeCaller(bridge.User{ID: c.ID, Name: name, AvatarURL: c.AvatarURL, Role: bridge.RoleMember}, true)
}

// storeCaller keeps what an identity said of a user. In a cluster a new
// or changed entry is told to the other processes (tell), so that a user
// known from their identity alone is known on every process: a send to
// them through another process finds them.
func (s *Service) storeCaller(u bridge.User, tell bool) {
	e := &callerEntry{user: u}
	e.seen.Store(s.now().Unix())
	s.callers.Store(u.ID, e)
	if tell && !s.cfg.RequireKnown && s.engine.Shared() {
		c := Control{Kind: ControlCaller, Caller: CallerInfo{ID: u.ID, Name: u.Name, AvatarURL: u.AvatarURL}}
		go func() {
			// Only users the directory does not know need it (the
			// others are known everywhere); asked off the request path.
			ctx, cancel := context.WithTimeout(context.Background(), DirectoryTimeout)
			_, err := s.dir.Get(ctx, u.ID)
			cancel()
			if errors.Is(err, bridge.ErrUnknownUser) {
				s.broadcast(c)
			}
		}()
	}
}

// Forget drops what identities said of ids and ends their parked polls
// (answered with no events), so that a user the site no longer knows is
// refused on their next call at once: the backend API's users/invalidate.
func (s *Service) Forget(ids ...string) {
	for _, id := range ids {
		s.callers.Delete(id)
		s.hub.Wake(id)
	}
}

// Admit refuses a caller the site does not know when RequireKnown is set:
// FORBIDDEN, on hello and every call. A host site that cannot be asked
// (ErrSourceDown) does not lock its members out.
func (s *Service) Admit(ctx context.Context, c Caller) error {
	if !s.cfg.RequireKnown {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), DirectoryTimeout)
	defer cancel()
	if _, err := s.dir.Get(ctx, c.ID); errors.Is(err, bridge.ErrUnknownUser) {
		return Errorf(CodeForbidden, "user %s is unknown to the site (not a member, banned or deleted)", c.ID)
	}
	return nil
}

// forgetCallers drops identity data not used for callerTTL.
func (s *Service) forgetCallers() {
	cutoff := s.now().Add(-callerTTL).Unix()
	s.callers.Range(func(k, v any) bool {
		if v.(*callerEntry).seen.Load() < cutoff {
			s.callers.Delete(k)
		}
		return true
	})
}

func (s *Service) caller(id string) (bridge.User, bool) {
	if v, ok := s.callers.Load(id); ok {
		return v.(*callerEntry).user, true
	}
	return bridge.User{}, false
}

// User returns what is known of id: the directory's entry, else what an
// identity said of it. ok is false for a user nobody knows.
func (s *Service) User(ctx context.Context, id string) (bridge.User, bool) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), DirectoryTimeout)
	defer cancel()
	u, err := s.dir.Get(ctx, id)
	if err == nil {
		if f, ok := s.caller(id); ok {
			if u.Name == "" {
				u.Name = f.Name
			}
			if u.AvatarURL == "" {
				u.AvatarURL = f.AvatarURL
			}
		}
		return u, true
	}
	if s.cfg.RequireKnown && errors.Is(err, bridge.ErrUnknownUser) {
		return bridge.User{}, false
	}
	return s.caller(id)
}

// Users returns the known users among ids (unknown ones left out).
func (s *Service) Users(ctx context.Context, ids []string) []bridge.User {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), DirectoryTimeout)
	defer cancel()
	m, derr := s.dir.GetMany(ctx, ids)
	// With RequireKnown an identity alone makes nobody known, unless the
	// site cannot be asked.
	fallback := !s.cfg.RequireKnown || derr != nil
	out := make([]bridge.User, 0, len(ids))
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		if u, ok := m[id]; ok {
			out = append(out, u)
		} else if f, ok := s.caller(id); ok && fallback {
			out = append(out, f)
		}
	}
	return out
}

// UsersFor is Users for a browser caller: each id that nobody knows costs
// CostUnknownID from the caller's bucket (each is a lookup at the host
// site), charged after the answer; a caller in debt gets RATE_LIMITED.
func (s *Service) UsersFor(ctx context.Context, c Caller, ids []string) ([]bridge.User, error) {
	if err := s.limits.take(c.ID, 0); err != nil {
		return nil, err
	}
	out := s.Users(ctx, ids)
	if unknown := len(ids) - len(out); unknown > 0 {
		s.limits.charge(c.ID, float64(unknown)*CostUnknownID)
	}
	return out, nil
}

// checkUserID applies the one rule for user ids (config.ValidUserID) to a
// parameter; empty ones are left to the caller's "is required" checks.
func checkUserID(param, id string) error {
	if id == "" {
		return nil
	}
	if err := config.ValidUserID(id); err != nil {
		return Errorf(CodeBadRequest, "%s is not a valid user id: %v", param, err)
	}
	return nil
}

// mutedErr is MUTED when user is muted in r, else nil.
func (s *Service) mutedErr(r *room, user string) error {
	if m, ok := s.mutes.get(r.name, user, s.now()); ok {
		left := int(m.ExpiresAt.Sub(s.now()).Seconds() + 0.999)
		return &Error{Code: CodeMuted, RetryAfter: left,
			Message: "you are muted in " + r.name + " for " + humanSeconds(left)}
	}
	return nil
}

func (s *Service) me(ctx context.Context, c Caller) bridge.User {
	s.remember(c)
	u, _ := s.User(ctx, c.ID)
	return u
}

// ---- hello and poll ----

// ConversationInfo is one line of hello's conversation list.
type ConversationInfo struct {
	With string `json:"with,omitempty"`
	Room string `json:"room,omitempty"`
	// System marks the conversation of system messages sent to the user
	// (backend API messages without from); history and read take system=1.
	System bool         `json:"system,omitempty"`
	Unread int          `json:"unread"`
	Last   *WireMessage `json:"last_message"`
}

// RequestInfo is a pending incoming chat request.
type RequestInfo = requestWire

// HelloResult is hello's answer.
type HelloResult struct {
	Me            bridge.User        `json:"me"`
	Cursor        string             `json:"cursor"`
	Conversations []ConversationInfo `json:"conversations"`
	Requests      []RequestInfo      `json:"requests"`
	Rooms         []string           `json:"rooms"`
	Online        []string           `json:"online"`
}

// Hello opens the caller's stream and returns their state.
func (s *Service) Hello(ctx context.Context, c Caller) (*HelloResult, error) {
	me := s.me(ctx, c)
	// Open the stream first: whatever is published from here on is in it,
	// and what the store shows below may repeat some of it (ids dedupe).
	cursor, err := s.hub.Open(c.ID)
	if err != nil {
		return nil, &Error{Code: CodeUnavailable, Message: "the cluster broker is unavailable; try again shortly", Err: err}
	}
	sctx, cancel := s.storeCtx(ctx)
	defer cancel()
	convs, err := s.store.Conversations(sctx, c.ID, s.roomNames, 100)
	if err != nil {
		return nil, storeErr(err)
	}
	reqs, err := s.store.Requests(sctx, c.ID)
	if err != nil {
		return nil, storeErr(err)
	}
	blocked := s.blocks.get(sctx, s.store, c.ID)
	res := &HelloResult{Me: me, Cursor: cursor, Rooms: s.roomNames,
		Conversations: make([]ConversationInfo, 0, len(convs)), Requests: make([]RequestInfo, 0, len(reqs))}
	var contacts []string
	for _, cv := range convs {
		if cv.With != "" {
			if _, b := blocked[cv.With]; b {
				continue
			}
			contacts = append(contacts, cv.With)
		}
		ci := ConversationInfo{With: cv.With, Room: cv.Room, Unread: cv.Unread, System: cv.With == "" && cv.Room == ""}
		if cv.Last != nil {
			ci.Last = (*WireMessage)(cv.Last)
		}
		res.Conversations = append(res.Conversations, ci)
	}
	s.hub.SetContacts(c.ID, contacts)
	if len(reqs) > 0 {
		ids := make([]string, len(reqs))
		for i, r := range reqs {
			ids[i] = r.From
		}
		users := s.userMap(ctx, ids)
		for _, r := range reqs {
			if _, b := blocked[r.From]; b {
				continue
			}
			res.Requests = append(res.Requests, wireRequest(users[r.From], r))
		}
	}
	res.Online = s.hub.OnlineUsers(c.ID, s.hub.Contacts(c.ID), 200)
	return res, nil
}

func (s *Service) userMap(ctx context.Context, ids []string) map[string]bridge.User {
	m := make(map[string]bridge.User, len(ids))
	for _, u := range s.Users(ctx, ids) {
		m[u.ID] = u
	}
	for _, id := range ids {
		if _, ok := m[id]; !ok {
			m[id] = bridge.User{ID: id, Name: "User " + id, Role: bridge.RoleMember}
		}
	}
	return m
}

// Remember keeps what an identity (or a popup link's name and thumbUrl)
// says of its user, the fallback when the directory knows nothing better.
func (s *Service) Remember(c Caller) { s.remember(c) }

// loadContacts gives a user who polls without a hello (the eStreamChat
// Messenger script never says hello) their contacts before they come
// online, so that the contacts hear it. One store read per stream: a
// stream that has contacts (hello, or an earlier poll) is left alone.
func (s *Service) loadContacts(user string) {
	if s.hub.ContactsLoaded(user) {
		return
	}
	ctx, cancel := s.storeCtx(context.Background())
	defer cancel()
	convs, err := s.store.Conversations(ctx, user, nil, 200)
	if err != nil {
		return
	}
	contacts := make([]string, 0, len(convs))
	for _, cv := range convs {
		if cv.With != "" {
			contacts = append(contacts, cv.With)
		}
	}
	s.hub.SetContacts(user, contacts)
}

// Seen marks the caller online (with the usual grace) as a poll would,
// telling their contacts when they come online: the eStreamChat
// MessengerCommand.ashx polls, which are not long polls.
func (s *Service) Seen(c Caller) {
	s.remember(c)
	s.loadContacts(c.ID)
	s.hub.Touch(c.ID)
}

// Park is Poll without a goroutine while it waits: see Hub.Park.
func (s *Service) Park(c Caller, cursor string, timeout time.Duration, fn func(PollResult)) (PollResult, bool) {
	s.remember(c)
	s.loadContacts(c.ID)
	if c.With != "" {
		return s.hub.ParkScoped(c.ID, cursor, jitter(timeout), fn)
	}
	return s.hub.Park(c.ID, cursor, jitter(timeout), fn)
}

// Poll answers the caller's events after cursor, parking up to timeout.
func (s *Service) Poll(c Caller, cursor string, timeout time.Duration, done <-chan struct{}) PollResult {
	s.remember(c)
	s.loadContacts(c.ID)
	if c.With != "" {
		return s.hub.PollScoped(c.ID, cursor, jitter(timeout), done)
	}
	return s.hub.Poll(c.ID, cursor, jitter(timeout), done)
}

// ---- validation ----

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

func (s *Service) mask(text string) string { return s.banned.mask(text) }

func (s *Service) room(name string) (*room, error) {
	r := s.rooms[name]
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

// ---- send ----

// SendParams are a send's parameters: To or Room.
type SendParams struct {
	To, Room, Text, ClientID string
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
	text, err := CleanText(p.Text, s.cfg.MaxLength)
	if err != nil {
		return SendResult{}, err
	}
	if p.Room != "" {
		r, err := s.room(p.Room)
		if err != nil {
			return SendResult{}, err
		}
		if strings.HasPrefix(text, "/") {
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
		sctx, cancel := s.storeCtx(ctx)
		s.blocks.get(sctx, s.store, p.To)
		cancel()
	}
	if err := s.limits.allow(c.ID); err != nil {
		return SendResult{}, err
	}
	m := &store.Message{From: c.ID, To: p.To, Room: p.Room, Text: s.mask(text), ClientID: p.ClientID}
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
	cm := &commit{m: m, done: make(chan struct{})}
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
	created bool
	err     error
	done    chan struct{}
}

// maxBatch bounds how many messages one commit round writes.
const maxBatch = 512

// runCommitter is the group commit: it takes what sends arrived, writes
// them to the store together (one transaction where the store batches),
// then publishes them in id order before taking the next batch. So every
// stream sees messages in id order, and throughput grows with load.
func (s *Service) runCommitter() {
	defer close(s.stopped)
	batch := make([]*commit, 0, maxBatch)
	for {
		select {
		case cm := <-s.commits:
			batch = append(batch[:0], cm)
		case <-s.stop:
			s.drainCommits()
			return
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case cm := <-s.commits:
				batch = append(batch, cm)
			default:
				break fill
			}
		}
		s.writeBatch(batch)
		sort.SliceStable(batch, func(i, j int) bool { return batch[i].m.ID < batch[j].m.ID })
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
		r := s.rooms[m.Room]
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
		}
	}
	if _, err := s.hub.PublishMany(to, ev); err != nil {
		s.log.Warn("chat: message stored but not delivered live (engine down); clients see it on their next hello", "id", m.ID, "err", err)
	}
}

// ---- history, read, typing ----

// HistoryParams select a page of history: With or Room.
type HistoryParams struct {
	With, Room string
	// System selects the system messages sent to the caller.
	System bool
	Before int64
	Limit  int
}

// History returns a page of a conversation, oldest first.
func (s *Service) History(ctx context.Context, c Caller, p HistoryParams) ([]store.Message, bool, error) {
	var conv store.Conv
	var err error
	if p.System && p.With == "" && p.Room == "" {
		conv = store.DirectConv("", c.ID)
	} else {
		conv, err = s.conv(c, p.With, p.Room)
	}
	if err != nil {
		return nil, false, err
	}
	if p.Limit <= 0 {
		p.Limit = 50
	}
	p.Limit = min(p.Limit, 100)
	if p.Before < 0 {
		return nil, false, Errorf(CodeBadRequest, "before must be a message id")
	}
	sctx, cancel := s.storeCtx(ctx)
	defer cancel()
	msgs, more, err := s.store.History(sctx, conv, p.Before, p.Limit)
	if err != nil {
		return nil, false, storeErr(err)
	}
	if blocked := s.blocks.get(sctx, s.store, c.ID); len(blocked) > 0 {
		kept := msgs[:0]
		for _, m := range msgs {
			if _, b := blocked[m.From]; !b {
				kept = append(kept, m)
			}
		}
		msgs = kept
	}
	return msgs, more, nil
}

func (s *Service) conv(c Caller, with, room string) (store.Conv, error) {
	switch {
	case (with == "") == (room == ""):
		return "", Errorf(CodeBadRequest, "give exactly one of with and room")
	case room != "":
		if _, err := s.room(room); err != nil {
			return "", err
		}
		return store.RoomConv(room), nil
	case checkUserID("with", with) != nil:
		return "", checkUserID("with", with)
	case with == c.ID:
		return "", Errorf(CodeBadRequest, "with must be another user")
	default:
		return store.DirectConv(c.ID, with), nil
	}
}

// Read moves the caller's read mark and tells the other side.
// With system set (and no with or room) it marks the conversation of
// system messages sent to the caller.
func (s *Service) Read(ctx context.Context, c Caller, with, room string, system bool, upto int64) error {
	var conv store.Conv
	var err error
	if system && with == "" && room == "" {
		conv = store.DirectConv("", c.ID)
	} else {
		conv, err = s.conv(c, with, room)
	}
	if err != nil {
		return err
	}
	if upto <= 0 {
		return Errorf(CodeBadRequest, "upto must be a message id")
	}
	if err := s.limits.take(c.ID, CostRead); err != nil {
		return err
	}
	sctx, cancel := s.storeCtx(ctx)
	defer cancel()
	// The mark goes no further than the conversation's newest message, and
	// a conversation without messages has nothing to mark: a direct one
	// does not exist (NOT_FOUND), an empty room is answered with nothing
	// stored.
	newest, _, err := s.store.History(sctx, conv, 0, 1)
	if err != nil {
		return storeErr(err)
	}
	if len(newest) == 0 {
		if room != "" {
			return nil
		}
		if with == "" {
			return Errorf(CodeNotFound, "no system messages to mark read")
		}
		return Errorf(CodeNotFound, "no conversation with %q", with)
	}
	upto = min(upto, newest[len(newest)-1].ID)
	if err := s.store.MarkRead(sctx, c.ID, conv, upto); err != nil {
		return storeErr(err)
	}
	ev := readEvent(c.ID, with, room, upto)
	s.hub.Publish(c.ID, ev)
	if with != "" && !s.blocks.blocks(with, c.ID) {
		s.hub.Publish(with, ev)
	}
	return nil
}

// Typing tells the peer or the room that the caller is typing.
func (s *Service) Typing(ctx context.Context, c Caller, to, room string) error {
	s.remember(c)
	switch {
	case (to == "") == (room == ""):
		return Errorf(CodeBadRequest, "give exactly one of to and room")
	case room != "":
		r, err := s.room(room)
		if err != nil {
			return err
		}
		if err := s.mutedErr(r, c.ID); err != nil {
			return err
		}
		if err := s.limits.take(c.ID, CostTyping); err != nil {
			return err
		}
		if r.size() > s.cfg.RoomEventsLimit || !s.typingFresh(c.ID, "#"+room) {
			return nil
		}
		ev := typingEvent(c.ID, "", room)
		for _, u := range r.snapshot() {
			if u != c.ID && !s.blocks.blocks(u, c.ID) {
				s.hub.Publish(u, ev)
			}
		}
	default:
		if err := checkUserID("to", to); err != nil {
			return err
		}
		if to == c.ID {
			return Errorf(CodeBadRequest, "to must be another user")
		}
		if err := s.limits.take(c.ID, CostTyping); err != nil {
			return err
		}
		if !s.typingFresh(c.ID, to) {
			return nil
		}
		if !s.blocks.blocks(to, c.ID) {
			s.hub.Publish(to, typingEvent(c.ID, to, ""))
		}
	}
	return nil
}

// typingFresh says whether a typing event from sender in conv may go out
// now: at most one a second per sender and conversation reaches anyone.
// The call is answered {ok:true} either way.
func (s *Service) typingFresh(sender, conv string) bool {
	return s.typing.Add(sender+"\x00"+conv, nil, time.Second) == nil
}

// ---- chat requests ----

// Request sends a chat request (an invitation) to another user.
func (s *Service) Request(ctx context.Context, c Caller, to, text string) error {
	me := s.me(ctx, c)
	if to == "" {
		return Errorf(CodeBadRequest, "to is required")
	}
	if err := checkUserID("to", to); err != nil {
		return err
	}
	if to == c.ID {
		return Errorf(CodeBadRequest, "cannot invite yourself")
	}
	if strings.TrimSpace(text) != "" {
		t, err := CleanText(text, s.cfg.MaxLength)
		if err != nil {
			return err
		}
		text = s.mask(t)
	} else {
		text = ""
	}
	if _, ok := s.User(ctx, to); !ok {
		return Errorf(CodeNotFound, "no user %q", to)
	}
	if err := s.limits.allow(c.ID); err != nil {
		return err
	}
	sctx, cancel := s.storeCtx(ctx)
	defer cancel()
	if s.blocks.getHas(sctx, s.store, to, c.ID) {
		return nil // blocked: dropped without telling the sender
	}
	r := store.Request{From: c.ID, To: to, Text: text, TS: s.now().UTC().Truncate(time.Second)}
	if err := s.store.SaveRequest(sctx, r); err != nil {
		return storeErr(err)
	}
	s.hub.Publish(to, chatRequestEvent(me, r))
	return nil
}

// Answer accepts or rejects the pending request from `from`.
func (s *Service) Answer(ctx context.Context, c Caller, from string, accept bool) error {
	s.remember(c)
	if from == "" {
		return Errorf(CodeBadRequest, "from is required")
	}
	if err := checkUserID("from", from); err != nil {
		return err
	}
	sctx, cancel := s.storeCtx(ctx)
	defer cancel()
	_, found, err := s.store.DeleteRequest(sctx, c.ID, from)
	if err != nil {
		return storeErr(err)
	}
	if !found {
		return Errorf(CodeNotFound, "no pending request from %q", from)
	}
	if accept {
		s.hub.AddContact(c.ID, from)
	}
	s.hub.Publish(from, chatAnswerEvent(c.ID, accept))
	return nil
}

// PendingRequests returns the caller's pending requests, oldest first, with
// the senders' user data.
func (s *Service) PendingRequests(ctx context.Context, c Caller) ([]store.Request, map[string]bridge.User, error) {
	s.remember(c)
	sctx, cancel := s.storeCtx(ctx)
	defer cancel()
	reqs, err := s.store.Requests(sctx, c.ID)
	if err != nil {
		return nil, nil, storeErr(err)
	}
	blocked := s.blocks.get(sctx, s.store, c.ID)
	kept := reqs[:0]
	ids := make([]string, 0, len(reqs))
	for _, r := range reqs {
		if _, b := blocked[r.From]; !b {
			kept = append(kept, r)
			ids = append(ids, r.From)
		}
	}
	return kept, s.userMap(ctx, ids), nil
}

// ---- blocks ----

// MaxBlocks bounds a user's block list.
const MaxBlocks = 1000

// Block records that the caller blocks (or unblocks) other: the other's
// messages, requests and typing no longer reach the caller.
func (s *Service) Block(ctx context.Context, c Caller, other string, block bool) error {
	if other == "" || other == c.ID {
		return Errorf(CodeBadRequest, "user_id must be another user")
	}
	if err := checkUserID("user_id", other); err != nil {
		return err
	}
	sctx, cancel := s.storeCtx(ctx)
	defer cancel()
	if block {
		if _, ok := s.User(ctx, other); !ok {
			return Errorf(CodeNotFound, "no user %q", other)
		}
		if err := s.limits.allow(c.ID); err != nil {
			return err
		}
		if list := s.blocks.get(sctx, s.store, c.ID); len(list) >= MaxBlocks {
			if _, already := list[other]; !already {
				return Errorf(CodeBadRequest, "a user may block at most %d users", MaxBlocks)
			}
		}
	}
	if err := s.store.SetBlock(sctx, c.ID, other, block); err != nil {
		return storeErr(err)
	}
	s.blocks.forget(c.ID)
	s.blocks.get(sctx, s.store, c.ID)
	s.broadcast(Control{Kind: ControlBlocks, Users: []string{c.ID}})
	return nil
}

// Blocked returns the users the caller blocks.
func (s *Service) Blocked(ctx context.Context, c Caller) ([]string, error) {
	sctx, cancel := s.storeCtx(ctx)
	defer cancel()
	out, err := s.store.Blocks(sctx, c.ID)
	if err != nil {
		return nil, storeErr(err)
	}
	sort.Strings(out)
	return out, nil
}

// ---- backend queries ----

// Unread returns a user's unread counts (for the backend API).
func (s *Service) Unread(ctx context.Context, user string) (int, []ConversationInfo, error) {
	sctx, cancel := s.storeCtx(ctx)
	defer cancel()
	convs, err := s.store.Conversations(sctx, user, s.roomNames, 1000)
	if err != nil {
		return 0, nil, storeErr(err)
	}
	total := 0
	out := make([]ConversationInfo, 0, len(convs))
	for _, cv := range convs {
		if cv.Unread == 0 {
			continue
		}
		total += cv.Unread
		out = append(out, ConversationInfo{With: cv.With, Room: cv.Room, Unread: cv.Unread, System: cv.With == "" && cv.Room == ""})
	}
	return total, out, nil
}

// Online returns every online user.
func (s *Service) Online() []string {
	out := s.hub.AllOnline()
	sort.Strings(out)
	return out
}

// ---- presence ----

// onPresence is the hub's presence callback: tell contacts and the members
// of the user's small rooms; a user who went offline leaves their rooms.
func (s *Service) onPresence(user string, online bool) {
	ev := presenceEvent(user, online)
	sent := map[string]bool{user: true}
	contacts := s.hub.Contacts(user)
	if s.engine.Shared() {
		// The process that saw the change may never have seen the user's
		// hello: their contacts come from the store.
		ctx, cancel := s.storeCtx(context.Background())
		if convs, err := s.store.Conversations(ctx, user, nil, 200); err == nil {
			for _, cv := range convs {
				if cv.With != "" {
					contacts = append(contacts, cv.With)
				}
			}
		}
		cancel()
	}
	var to []string
	for _, u := range contacts {
		if !sent[u] {
			sent[u] = true
			to = append(to, u)
		}
	}
	// Co-members of the user's small rooms, taken before an offline user
	// leaves them, so they hear both the presence and the leave.
	var left []*room
	for _, name := range s.roomNames {
		r := s.rooms[name]
		if !r.has(user) {
			continue
		}
		if !online {
			left = append(left, r)
		}
		if r.size() > s.cfg.RoomEventsLimit {
			continue
		}
		for _, u := range r.snapshot() {
			if !sent[u] {
				sent[u] = true
				to = append(to, u)
			}
		}
	}
	s.publish(to, ev)
	for _, r := range left {
		if r.remove(user) {
			s.roomUserEvent("user_left", r, user, context.Background())
		}
	}
}

func (s *Service) runReaper() {
	tick := min(time.Second, s.cfg.Grace/4)
	t := time.NewTicker(tick)
	defer t.Stop()
	n := 0
	for {
		select {
		case <-t.C:
			s.hub.Reap()
			s.expireMutes()
			if n++; n%60 == 0 {
				s.forgetCallers()
			}
		case <-s.stop:
			return
		}
	}
}

func humanSeconds(n int) string {
	switch {
	case n < 60:
		return plural(n, "second")
	case n < 3600:
		return plural((n+59)/60, "minute")
	default:
		return plural((n+3599)/3600, "hour")
	}
}

func plural(n int, unit string) string {
	s := itoa(n) + " " + unit
	if n != 1 {
		s += "s"
	}
	return s
}
