package files

import (
	"crypto/rand"
	"encoding/base32"
	"strings"
)

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewID returns a new random file id: 26 characters of [a-z2-7] carrying
// 128 bits from crypto/rand, so ids cannot be guessed or enumerated.
func NewID() string {
	var b [16]byte
	rand.Read(b[:])
	return idEncoding.EncodeToString(b[:])
}

// thumbSuffix marks the id of a thumbnail.
const thumbSuffix = "_t"

// ThumbID returns the blob id of id's thumbnail.
func ThumbID(id string) string { return id + thumbSuffix }

// ValidID reports whether id is a file id (from NewID) or a thumbnail id
// (from ThumbID). Only valid ids ever reach a file system path, so no id
// can name anything outside a Dir.
func ValidID(id string) bool {
	id = strings.TrimSuffix(id, thumbSuffix)
	if len(id) != 26 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return false
		}
	}
	// 26 characters carry 130 bits: the last one's 2 low bits are padding,
	// which must be zero so each id has a single spelling.
	v := int(id[25] - 'a')
	if id[25] < 'a' {
		v = int(id[25]-'2') + 26
	}
	return v&3 == 0
}
