// Package chat is pollchat's domain, with no HTTP in it: per-user event
// streams with cursors and parked waiters (the hub), conversations, chat
// requests, rooms, roles, mutes, presence and rate limits.
package chat

import (
	"errors"
	"fmt"
)

// Codes are the client-facing error codes of docs/protocol.md section 2.
const (
	CodeAuthFailed    = "AUTH_FAILED"
	CodeTokenExpired  = "TOKEN_EXPIRED"
	CodeBadRequest    = "BAD_REQUEST"
	CodeTooLong       = "TOO_LONG"
	CodeNotFound      = "NOT_FOUND"
	CodeForbidden     = "FORBIDDEN"
	CodeMuted         = "MUTED"
	CodeRateLimited   = "RATE_LIMITED"
	CodeUnavailable   = "UNAVAILABLE"
	CodeInternal      = "INTERNAL_ERROR"
	CodeInvalidExpiry = "INVALID_TOKEN_EXPIRATIONS"
)

// Error is a client-facing error: a code of docs/protocol.md and a message for
// humans. The HTTP face maps the code to a status once.
type Error struct {
	Code    string
	Message string
	// RetryAfter is set on RATE_LIMITED and MUTED (seconds), 0 otherwise.
	RetryAfter int
	Err        error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("chat: %s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("chat: %s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code, format string, a ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, a...)}
}

// AsError returns err as an *Error, mapping unknown errors to INTERNAL_ERROR.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: CodeInternal, Message: "internal error", Err: err}
}
