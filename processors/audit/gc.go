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
// whole heap again each time it doubles, which cost a third or more of a
// replay's CPU. While a replay reads, the heap may grow to nine times its
// live data (GOGC=800), with a soft limit of half the memory it may use
// (the machine's, or its container's limit when lower), so a large ledger
// makes the collector work harder rather than the process run out. GOGC or
// GOMEMLIMIT in the environment win. Measured on the replay benchmark
// (10M events, 2 cores, 3 runs each, processors/audit/BENCH.md): median
// 632k events/s at 400, 834k at 800, 767k at 1600, 901k with the collector
// off until the limit (but a first run of 532k, faulting in a heap of 9 GB);
// peak RSS 6.8 GB at 800. GOGC=200 was measured again later (21:00-21:50
// UTC, BENCH.md): first runs of a process 8-10% faster and 40% less memory
// mapped, but later replays of the benchmark's process 15-30% slower.
const replayGCPercent = 800

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
