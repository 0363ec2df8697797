package testsvc

import (
	"sync"
	"testing"
)

// Shared services (SharedMariaDB) live for the whole test binary; Main
// stops them when the package's tests are done.
var (
	sharedMu   sync.Mutex
	sharedStop []func() // stoppers of shared services, run by Main
)

// Main runs the package's tests and then stops every shared service this
// package started (SharedMariaDB). Use it as
//
//	func TestMain(m *testing.M) { os.Exit(testsvc.Main(m)) }
func Main(m *testing.M) int {
	code := m.Run()
	StopShared()
	return code
}

// StopShared stops the shared services started so far, last started first
// (Main calls it).
func StopShared() {
	sharedMu.Lock()
	stops := sharedStop
	sharedStop = nil
	sharedMu.Unlock()
	for i := len(stops) - 1; i >= 0; i-- {
		stops[i]()
	}
}

func addShared(stop func()) {
	sharedMu.Lock()
	sharedStop = append(sharedStop, stop)
	sharedMu.Unlock()
}
