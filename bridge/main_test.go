package bridge

import (
	"os"
	"testing"

	"pollchat/internal/testsvc"
)

// TestMain stops the shared MariaDB the tests start.
func TestMain(m *testing.M) { os.Exit(testsvc.Main(m)) }
