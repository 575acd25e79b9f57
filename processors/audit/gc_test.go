package audit

import (
	"runtime/debug"
	"testing"
)

func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

func TestTuneGC(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	before := gcPercent()
	outer := tuneGC()
	inner := tuneGC() // a second replay at the same time
	if got := gcPercent(); got != replayGCPercent {
		t.Fatalf("GOGC during a replay = %d, want %d", got, replayGCPercent)
	}
	inner()
	if got := gcPercent(); got != replayGCPercent {
		t.Fatalf("GOGC after the inner replay = %d, want %d until the outer one ends", got, replayGCPercent)
	}
	outer()
	if got := gcPercent(); got != before {
		t.Fatalf("GOGC after the replays = %d, want %d back", got, before)
	}

	t.Setenv("GOGC", "50") // the user's setting wins
	restore := tuneGC()
	if got := gcPercent(); got != before {
		t.Fatalf("GOGC with GOGC set = %d, want %d untouched", got, before)
	}
	restore()
}
