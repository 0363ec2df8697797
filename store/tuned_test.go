package store

import "time"

// OpenEmbeddedTuned opens the embedded store with the knobs the benchmarks
// compare (test builds only).
func OpenEmbeddedTuned(dir string, linger time.Duration, noFreelistSync bool) (*Embedded, error) {
	return openEmbedded(dir, embeddedOptions{linger: linger, noFreelistSync: noFreelistSync})
}
