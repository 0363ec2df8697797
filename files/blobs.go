package files

import (
	"io"
	"time"
)

// Info describes a stored blob.
type Info struct {
	ID      string
	Size    int64
	ModTime time.Time
}

// Blobs keeps file contents by id (from NewID or ThumbID). Implementations
// refuse ids that are not ValidID with ErrBadID and answer ErrNotFound for
// a missing blob; they are safe for concurrent use. Dir keeps blobs in a
// directory; a MySQL implementation can keep them in a table.
type Blobs interface {
	// Put stores everything r yields under id, atomically: a reader sees
	// the old blob or the whole new one, never part, and a crash leaves no
	// part behind. An existing blob is replaced (import).
	Put(id string, r io.Reader) (Info, error)
	// Open returns the blob to read (and seek, for Range requests) and its
	// Info. The caller closes it.
	Open(id string) (io.ReadSeekCloser, Info, error)
	// Stat returns the blob's Info.
	Stat(id string) (Info, error)
	// Delete removes the blob; deleting a missing blob is not an error, so
	// retention sweeps and erasure can be repeated.
	Delete(id string) error
	// List calls fn for every blob, in no particular order, until fn
	// returns an error, which List returns (export, orphan sweeps).
	List(fn func(Info) error) error
}
