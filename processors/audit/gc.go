package audit

import (
	"bufio"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
)

// A replay is a batch job whose heap is mostly the ledger it is building,
// live until the end: with Go's default GOGC=100 the collector marks that
// whole heap again each time it doubles. A larger GOGC marks less often but
// lets the heap grow further, and on the machines measured a page the
// process touches for the first time costs more than marking it: a minor
// fault there is about 11 µs of CPU (4 KiB), and a replay that grew its
// heap to 5-8 GB spent 10-15 s of CPU faulting. So a replay runs with
// GOGC=200 (the heap grows to three times its live data), with a soft limit
// of half the memory it may use (the machine's, or its container's limit
// when lower). GOGC or GOMEMLIMIT in the environment win. Measured on the
// replay benchmark (10M events, 2 cores, fresh processes with two replays
// each, processors/audit/BENCH.md, 2026-11-22 21:00): medians of all runs
// 708k events/s at 800 (10 runs, 4.3-8.5 GB mapped), 694k at 400, 792k at
// 200 (6 runs, 4.0-4.3 GB), 720k at 100.
const replayGCPercent = 200

var gcTune struct {
	sync.Mutex
	users     int
	oldPct    int
	oldLimit  int64
	limitSet  bool
	untouched bool
}

// tuneGC applies the replay's collector settings until the returned func
// is called; nested and concurrent replays share them.
func tuneGC() (restore func()) {
	t := &gcTune
	t.Lock()
	defer t.Unlock()
	if t.users++; t.users == 1 {
		t.untouched = os.Getenv("GOGC") != ""
		if !t.untouched {
			t.oldPct = debug.SetGCPercent(replayGCPercent)
			if total := memTotal(); total > 0 && os.Getenv("GOMEMLIMIT") == "" {
				t.oldLimit, t.limitSet = debug.SetMemoryLimit(total/2), true
			}
		}
	}
	return func() {
		t.Lock()
		defer t.Unlock()
		if t.users--; t.users == 0 && !t.untouched {
			debug.SetGCPercent(t.oldPct)
			if t.limitSet {
				debug.SetMemoryLimit(t.oldLimit)
				t.limitSet = false
			}
		}
	}
}

// memTotal is the memory the process may use, in bytes: the machine's
// (Linux), or its cgroup's limit when lower (a container); 0 if unknown.
func memTotal() int64 {
	host := hostMem()
	if lim := cgroupMem(); lim > 0 && (host == 0 || lim < host) {
		return lim
	}
	return host
}

// cgroupMem is the memory limit of the process's cgroup (v2, then v1), or
// 0 when there is none.
func cgroupMem() int64 {
	for _, f := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err == nil && v > 0 && v < 1<<60 { // "max", or v1's huge "unlimited"
			return v
		}
	}
	return 0
}

// hostMem is the machine's memory in bytes (Linux), or 0.
func hostMem() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			f := strings.Fields(rest) // "16384000 kB"
			if len(f) == 0 {
				return 0
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}
