package chat

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

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
	// Cached is Get(id) from the cache alone (ok false: Get would wait);
	// known is false for a user Get would answer ErrUnknownUser.
	Cached(id string) (u bridge.User, known, ok bool)
}

// Config configures a Service. Zero values mean the defaults of docs/protocol.md.
type Config struct {
	// Rooms everyone may join; nil means ["lobby"].
	Rooms []string
	// AutoJoin is the room (one of Rooms) every signed-in user joins on
	// hello (chat.auto_join); empty joins nobody.
	AutoJoin string
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
	// NoticeDelay, when positive, puts every direct message whose recipient
	// is offline into the store's outbox of missed-message notices, due this
	// long after (notify.delay; the notify package sends them). Zero: off.
	NoticeDelay time.Duration
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
	// Guest marks a visitor without an identity (rooms.guest_read): they
	// read the public rooms and nothing else (guest.go).
	Guest bool
	// Lang is the language of the server's own texts for this caller (en,
	// de, fr, it; hello's lang); empty means the one hello last said.
	Lang string
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

	rooms     map[string]*room // the static rooms (Config.Rooms)
	roomNames []string
	created   createdRooms // the backend's rooms (rooms_created.go)
	langs     sync.Map     // user -> language of their system texts (lang.go)

	commits chan *commit
	stop    chan struct{}
	stopped chan struct{}
	once    sync.Once
	notices chan noticeJob // for the notice worker (notices.go)
	workers sync.WaitGroup // the notice worker
	noticed sync.Map       // user -> int64: newest message id put in a notice here
	dropped atomic.Uint64  // notice jobs dropped on a full queue

	limits  limiter
	typing  *cache.Cache // sender + conversation -> nil: a typing event went out this second
	mutes   mutes
	blocks  blocks
	callers sync.Map // id -> *callerEntry: what identities said, the fallback
	tells   callerTells

	sends        atomic.Uint64
	commitRounds atomic.Uint64 // commit rounds of the committer (tests, benchmarks)
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
	s.initCreated(st)
	s.banned = newWordMask(cfg.BannedWords)
	s.limits = limiter{engine: cfg.Engine, errs: s.errs, rate: cfg.Rate, burst: cfg.Burst}
	s.blocks.init()
	s.typing = cache.New(time.Second, 10*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), cfg.StoreTimeout)
	defer cancel()
	if err := s.mutes.load(ctx, st); err != nil {
		return nil, err
	}
	if cfg.NoticeDelay > 0 {
		if _, ok := st.(store.Records); ok {
			s.notices = make(chan noticeJob, noticeQueue)
			s.workers.Add(1)
			go s.runNotices()
		}
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
		u := bridge.User{ID: ci.ID, Name: ci.Name, AvatarURL: ci.AvatarURL, Role: bridge.RoleMember}
		if v, ok := s.callers.Load(ci.ID); ok {
			if e := v.(*callerEntry); e.user.Name == u.Name && e.user.AvatarURL == u.AvatarURL && e.user.Role == u.Role && e.user.ProfileURL == "" && e.user.Extra == nil {
				// Nothing new: the sender's own message coming back (every
				// process hears its own), or a second process telling
				// what a first did. Replacing the entry by an equal one
				// made a copy per new user, and the stream's cached entry
				// gone, so its next poll looked it up again.
				e.see(s.now().Unix())
				return
			}
		}
		s.storeCaller(u, false)
	case ControlBlocks:
		s.blocks.forget(c.Users[0])
		ctx, cancel := s.storeCtx(context.Background())
		defer cancel()
		s.blocks.get(ctx, s.store, c.Users[0])
	case ControlInvalidate:
		s.dir.Invalidate(c.Users...)
		s.Forget(c.Users...)
	case ControlRooms:
		s.reloadRooms()
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
		s.workers.Wait()
	})
}

// publish sends an event to users' streams; a failure is counted and logged.
func (s *Service) publish(users []string, key string, ev []byte) {
	if _, err := s.hub.PublishMany(users, key, ev); err != nil {
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
