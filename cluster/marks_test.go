package cluster

import (
	"testing"
	"time"
)

// One map holds both records of a user: sweeping one half must keep the
// other, and a user goes only when both are gone.
func TestMarksSweepKeepsTheOtherHalf(t *testing.T) {
	m := newMarks()
	now := m.base.Add(time.Hour)
	grace := 40 * time.Second
	pollMax := 30 * time.Second
	nowMS := now.UnixMilli()

	// a: registered until now+1m, score old. b: registration ended, score
	// fresh. c: both over.
	_, gen := m.needHold("a", now, pollMax)
	m.didHold("a", now.Add(time.Minute), gen)
	m.didHold("b", now.Add(-time.Second), gen)
	m.didHold("c", now.Add(-time.Second), gen)
	m.mu.Lock()
	m.wroteTouch("a", nowMS-grace.Milliseconds()-1)
	m.wroteTouch("b", nowMS)
	m.wroteTouch("c", nowMS-grace.Milliseconds()-1)
	m.mu.Unlock()

	m.sweep(now, grace)
	if len(m.m) != 2 {
		t.Fatalf("after sweep %d users kept, want 2 (a, b): %v", len(m.m), m.m)
	}
	if need, _ := m.needHold("a", now, pollMax); need {
		t.Error("a's registration was swept")
	}
	if need, _ := m.needHold("b", now, pollMax); !need {
		t.Error("b's ended registration still counts")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.skipTouch("a", nowMS, nowMS, grace.Milliseconds()) {
		t.Error("a's swept score still skips a write")
	}
	if !m.skipTouch("b", nowMS+1, nowMS+1, grace.Milliseconds()) {
		t.Error("b's fresh score was swept")
	}
	if m.m["b"].held != 0 {
		t.Error("b's ended registration was kept")
	}
}

// A registration made by a read that started before forget is not
// recorded (Redis may have lost it), and forget drops the scores too.
func TestMarksForgetDropsBothAndOldReads(t *testing.T) {
	m := newMarks()
	now := time.Now()
	_, gen := m.needHold("a", now, time.Minute)
	m.mu.Lock()
	m.wroteTouch("b", now.UnixMilli())
	m.mu.Unlock()
	m.forget()
	m.didHold("a", now.Add(time.Hour), gen)
	if n := m.holdCount(); n != 0 {
		t.Errorf("a read from before forget recorded its registration: %d held", n)
	}
	m.mu.Lock()
	skip := m.skipTouch("b", now.UnixMilli(), now.UnixMilli(), 40000)
	m.mu.Unlock()
	if skip {
		t.Error("a score written before forget still skips a write")
	}
	_, gen = m.needHold("a", now, time.Minute)
	m.didHold("a", now.Add(time.Hour), gen)
	if n := m.holdCount(); n != 1 {
		t.Errorf("%d held after a registration, want 1", n)
	}
}
