package bridge

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"
)

// Reason says why an identity was refused.
type Reason string

// Why an identity is refused (RefusalError.Reason).
const (
	// ReasonMalformed: not the shape of an identity (a hash that is not 40
	// hex digits, a timestamp that is not 12 digits of a real date, a bad
	// user id, a token that does not parse, a wrong algorithm).
	ReasonMalformed Reason = "malformed"
	// ReasonWrongHash: well formed, but not signed with this secret.
	ReasonWrongHash Reason = "wrong_hash"
	// ReasonExpired: rightly signed, but the timestamp is outside
	// auth.max_age of now, or the token has expired.
	ReasonExpired Reason = "expired"
	// ReasonClockSkew: rightly signed, outside the window, and off by a
	// whole number of hours: the site writes the timestamp in local time
	// (PHP's date()) where UTC is wanted (gmdate()), or auth.timezone does
	// not match the site's.
	ReasonClockSkew Reason = "clock_skew"
)

// RefusalError is a refused identity with the reason. It unwraps to
// ErrAuthFailed or ErrTokenExpired, so errors.Is tells the client's error
// code as before; the reason and detail are for the server's log only
// (never tell a client more than the code).
type RefusalError struct {
	Reason Reason
	// Detail says it for an admin: what was wrong, and for ReasonClockSkew
	// what to fix.
	Detail string
	// Skew is how far the timestamp is from the server's clock (positive:
	// ahead), for expired and skewed legacy identities.
	Skew time.Duration
	err  error
}

func (e *RefusalError) Error() string { return e.err.Error() + ": " + e.Detail }

// Unwrap returns ErrAuthFailed or ErrTokenExpired.
func (e *RefusalError) Unwrap() error { return e.err }

func refused(sentinel error, r Reason, format string, a ...any) *RefusalError {
	return &RefusalError{Reason: r, Detail: fmt.Sprintf(format, a...), err: sentinel}
}

// skewSlack is how far from a whole number of hours a timestamp may be
// and still count as skewed by hours: the page was signed a little before
// it called.
const skewSlack = 5 * time.Minute

// expiredTimestamp is the refusal of a rightly signed timestamp t outside
// the window, telling a whole-hours skew apart.
func (v *Verifier) expiredTimestamp(t time.Time) *RefusalError {
	skew := t.Sub(v.Now())
	hours := math.Round(skew.Hours())
	off := skew - time.Duration(hours)*time.Hour
	if off < 0 {
		off = -off
	}
	if hours != 0 && math.Abs(hours) <= 26 && off <= min(skewSlack, v.maxAge) {
		dir := "ahead of"
		if hours < 0 {
			dir = "behind"
		}
		e := refused(ErrTokenExpired, ReasonClockSkew,
			"timestamp is %gh %s the server clock (UTC%+g): the site writes it in local time, as PHP's date() does; sign with gmdate('ymdHis') or set auth.timezone to the site's zone",
			math.Abs(hours), dir, hours)
		e.Skew = skew
		return e
	}
	e := refused(ErrTokenExpired, ReasonExpired, "timestamp is %s off the server clock; auth.max_age is %s", skew.Round(time.Second), v.maxAge)
	e.Skew = skew
	return e
}

// RefusalLogBurst and RefusalLogEvery bound the refusal log: a burst of
// lines, then one per RefusalLogEvery; the lines left out are counted in
// the next one.
const (
	RefusalLogBurst = 10
	RefusalLogEvery = 6 * time.Second
)

type refusalLog struct {
	mu         sync.Mutex
	tokens     float64
	last       time.Time
	suppressed int64
}

// LogRefusal logs, rate-limited, why an identity was refused: one line
// with the reason, the detail and the user id as sent (bounded and
// sanitised), plus attrs (e.g. "remote", addr, "path", path). err is what
// VerifyHash, VerifyToken or VerifyChatLink returned; nil does nothing.
// The log is Verifier.Log, or slog.Default().
func (v *Verifier) LogRefusal(err error, userID string, attrs ...any) {
	if err == nil {
		return
	}
	rl := &v.refusals
	rl.mu.Lock()
	now := time.Now()
	if rl.last.IsZero() {
		rl.tokens = RefusalLogBurst
	} else {
		rl.tokens = min(RefusalLogBurst, rl.tokens+float64(now.Sub(rl.last))/float64(RefusalLogEvery))
	}
	rl.last = now
	if rl.tokens < 1 {
		rl.suppressed++
		rl.mu.Unlock()
		return
	}
	rl.tokens--
	suppressed := rl.suppressed
	rl.suppressed = 0
	rl.mu.Unlock()

	reason, detail := ReasonMalformed, err.Error()
	var re *RefusalError
	if errors.As(err, &re) {
		reason, detail = re.Reason, re.Detail
	}
	args := []any{"reason", string(reason), "detail", detail, "user_id", sanitizedStart([]byte(userID), 64)}
	if suppressed > 0 {
		args = append(args, "suppressed", suppressed)
	}
	log := v.Log
	if log == nil {
		log = slog.Default()
	}
	log.Warn("bridge: identity refused", append(args, attrs...)...)
}
