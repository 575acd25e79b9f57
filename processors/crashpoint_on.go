//go:build crashpoints

package processors

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
)

var crash = armCrash()

type armed struct {
	point crashPoint
	at    int64
	hits  atomic.Int64
}

func armCrash() *armed {
	v := os.Getenv(CrashEnv)
	if v == "" {
		return nil
	}
	name, n, ok := strings.Cut(v, ":")
	at, err := strconv.ParseInt(n, 10, 64)
	if !ok || err != nil || at < 1 {
		panic(fmt.Sprintf("%s=%q: want POINT:N with N >= 1", CrashEnv, v))
	}
	for p := crashPoint(0); p < numCrashPoints; p++ {
		if p.String() == name {
			return &armed{point: p, at: at}
		}
	}
	panic(fmt.Sprintf("%s=%q: no crash point %q", CrashEnv, v, name))
}

func crashAt(p crashPoint) {
	if crash == nil || crash.point != p || crash.hits.Add(1) != crash.at {
		return
	}
	fmt.Fprintf(os.Stderr, "crash point %s reached (%d): SIGKILL\n", p, crash.at)
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {} // the signal is on its way; nothing after the point may run
}
