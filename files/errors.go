package files

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error this package returns for bad input wraps one
// of these (test with errors.Is); the wrapping message says what was wrong
// and is safe to show to the user. [Code] maps them to protocol codes.
var (
	// ErrTooLarge: the upload exceeds Config.MaxSize. Code TOO_LONG.
	ErrTooLarge = errors.New("files: file too large")
	// ErrDimensions: an image is wider, taller or has more pixels than
	// allowed (a decompression bomb is refused this way before it is
	// decoded). Code TOO_LONG.
	ErrDimensions = errors.New("files: image dimensions too large")
	// ErrType: the content is of a type that is not accepted (HTML, SVG,
	// executables, anything unknown, or a known type missing from
	// Config.Types). Code BAD_REQUEST.
	ErrType = errors.New("files: type not accepted")
	// ErrContent: the content claims a type but is broken or ambiguous: a
	// truncated image, text that is not UTF-8, a polyglot that is valid as
	// two types, a zip bomb, an archive that cannot be checked. Code
	// BAD_REQUEST.
	ErrContent = errors.New("files: content refused")
	// ErrQuota: the user's daily upload quota is used up (see CheckQuota).
	// Code RATE_LIMITED.
	ErrQuota = errors.New("files: daily upload quota exceeded")
	// ErrExpired: a signed URL is past its expiry. Code FORBIDDEN.
	ErrExpired = errors.New("files: link expired")
	// ErrSignature: a signed URL is malformed or was not signed with this
	// key for this file. Code FORBIDDEN.
	ErrSignature = errors.New("files: bad link signature")
	// ErrNotFound: no blob with that id. Code NOT_FOUND.
	ErrNotFound = errors.New("files: not found")
	// ErrBadID: an id that does not match the id pattern (see ValidID); it
	// never reaches the file system. Code NOT_FOUND.
	ErrBadID = errors.New("files: bad file id")
)

// Code maps an error from this package to the protocol's error code
// (PROTOCOL.md section 2): TOO_LONG, BAD_REQUEST, RATE_LIMITED, FORBIDDEN,
// NOT_FOUND, or INTERNAL_ERROR for anything else (I/O errors).
func Code(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrTooLarge), errors.Is(err, ErrDimensions):
		return "TOO_LONG"
	case errors.Is(err, ErrType), errors.Is(err, ErrContent):
		return "BAD_REQUEST"
	case errors.Is(err, ErrQuota):
		return "RATE_LIMITED"
	case errors.Is(err, ErrExpired), errors.Is(err, ErrSignature):
		return "FORBIDDEN"
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrBadID):
		return "NOT_FOUND"
	}
	return "INTERNAL_ERROR"
}

// CheckQuota says whether a user who has stored used bytes today may store
// size more under a daily limit (limit <= 0: no quota). It returns nil or an
// error wrapping ErrQuota. The caller keeps the count (store or Redis).
func CheckQuota(used, size, limit int64) error {
	if limit <= 0 || (used >= 0 && size >= 0 && used+size <= limit && used+size >= used) {
		return nil
	}
	return fmt.Errorf("%w: %d of %d bytes used today", ErrQuota, used, limit)
}
