package store

import "time"

// OpenEmbeddedTuned opens the embedded store with the knobs the benchmarks
// compare (test builds only).
func OpenEmbeddedTuned(dir string, linger time.Duration, noFreelistSync bool) (*Bolt, error) {
	return openBolt(dir, boltOptions{linger: linger, noFreelistSync: noFreelistSync})
}
