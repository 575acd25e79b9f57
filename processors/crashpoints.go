package processors

// CrashEnv names the variable that arms a crash point in a binary built
// with the crashpoints tag: STOCKLEDGER_CRASH_AT=POINT:N kills the process
// with SIGKILL the Nth time it passes POINT (CrashPoints lists them).
const CrashEnv = "STOCKLEDGER_CRASH_AT"

// crashPoint is a point between two stages of the live pipeline, where the
// crash tests kill the process (crashAt).
type crashPoint uint8

const (
	// crashFolded: a batch is folded and its outputs encoded; nothing of
	// it has left the process.
	crashFolded crashPoint = iota
	// crashProduced: its outputs are handed to the producer, some maybe
	// acknowledged.
	crashProduced
	// crashAcked: every output is acknowledged; the published marks are
	// not written.
	crashAcked
	// crashMarked: the marks are written; the state is not committed.
	crashMarked
	// crashCommitted: the state is committed; its changelog records are
	// not produced.
	crashCommitted
	// crashChangelogged: its changelog records are handed to the producer.
	crashChangelogged
	numCrashPoints
)

var crashPointNames = [numCrashPoints]string{"folded", "produced", "acked", "marked", "committed", "changelogged"}

func (p crashPoint) String() string {
	if p < numCrashPoints {
		return crashPointNames[p]
	}
	return "unknown"
}

// CrashPoints lists the crash points' names, in pipeline order.
func CrashPoints() []string { return crashPointNames[:] }
