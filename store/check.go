package store

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// Limits every store enforces the same way (the MySQL columns hold no more).
const (
	maxIDLen       = 64      // user ids and room names, in characters
	maxClientIDLen = 255     // characters
	maxTextLen     = 65535   // bytes
	maxDataLen     = 1 << 24 // bytes
	// maxID bounds imported ids: browsers parse ids as JSON numbers, exact
	// only below 2^53, and later ids must stay above every imported one.
	maxID = 1 << 53
)

// checkMessage says why m cannot be saved, or nil.
func checkMessage(m *Message) error {
	if m.To == "" && m.Room == "" || m.To != "" && m.Room != "" {
		return errors.New("exactly one of to and room must be set")
	}
	for _, f := range []struct{ name, v string }{{"from", m.From}, {"to", m.To}, {"room", m.Room}} {
		if utf8.RuneCountInString(f.v) > maxIDLen {
			return fmt.Errorf("%s longer than %d characters", f.name, maxIDLen)
		}
	}
	if utf8.RuneCountInString(m.ClientID) > maxClientIDLen {
		return fmt.Errorf("client_id longer than %d characters", maxClientIDLen)
	}
	if len(m.Text) > maxTextLen {
		return fmt.Errorf("text longer than %d bytes", maxTextLen)
	}
	if len(m.Data) > maxDataLen {
		return fmt.Errorf("data longer than %d bytes", maxDataLen)
	}
	return nil
}

// checkImport is checkMessage for a message that keeps its id and ts.
func checkImport(m *Message) error {
	if m.ID <= 0 || m.ID >= maxID {
		return fmt.Errorf("message id %d: want 1..2^53-1", m.ID)
	}
	if m.TS.IsZero() {
		return fmt.Errorf("message %d: no ts", m.ID)
	}
	if err := checkMessage(m); err != nil {
		return fmt.Errorf("message %d: %w", m.ID, err)
	}
	return nil
}
