package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// child is a `stockledger run` process on the env's brokers: the restart
// and scale workloads measure a real process (its own RSS and CPU, broker
// excluded) and kill it.
type child struct {
	cmd  *exec.Cmd
	url  string
	log  string
	done chan struct{}
	err  error // from Wait, once done is closed
}

// childArgs are what a child needs besides its data directory.
type childArgs struct {
	prefix         string
	group          string
	sessionTimeout time.Duration
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// startChild starts `stockledger run` with data directory data.
func startChild(ctx context.Context, env *Env, a childArgs, data, name string) (*child, error) {
	bin, err := env.binary(ctx)
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(filepath.Dir(data), name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	c := &child{url: fmt.Sprintf("http://127.0.0.1:%d", port), log: logPath, done: make(chan struct{})}
	c.cmd = exec.Command(bin, "run",
		"--brokers", strings.Join(env.Brokers, ","), "--topic-prefix", a.prefix, "--group", a.group,
		"--data", data, "--http", fmt.Sprintf("127.0.0.1:%d", port),
		"--partitions", strconv.Itoa(int(env.Partitions)), "--session-timeout", a.sessionTimeout.String(),
		"--clock-interval", "0", // the streams carry their own clocks (ProcessorConfig.apply)
		"--log-level", "warn")
	c.cmd.Stdout, c.cmd.Stderr = logf, logf
	if err := c.cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	go func() {
		c.err = c.cmd.Wait()
		logf.Close()
		close(c.done)
	}()
	return c, nil
}

func (c *child) pid() int { return c.cmd.Process.Pid }

func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// logTail is the end of the child's log, for error messages.
func (c *child) logTail() string {
	b, _ := os.ReadFile(c.log)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// kill SIGKILLs the child and waits for it.
func (c *child) kill() {
	if !c.exited() {
		_ = c.cmd.Process.Signal(syscall.SIGKILL)
	}
	<-c.done
}

// terminate SIGTERMs the child and waits up to a minute before killing it.
func (c *child) terminate() error {
	if c.exited() {
		return fmt.Errorf("child exited early: %v\n%s", c.err, c.logTail())
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
		return c.err
	case <-time.After(time.Minute):
		c.kill()
		return errors.New("child did not stop within a minute of SIGTERM")
	}
}

var httpClient = &http.Client{Timeout: 2 * time.Second}

// childStatus is the part of GET /v1/status the harness reads.
type childStatus struct {
	Partitions []struct {
		Partition int32 `json:"partition"`
		Next      int64 `json:"next_offset"`
	} `json:"partitions"`
}

func (c *child) status(ctx context.Context) (*childStatus, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.url+"/v1/status", nil)
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status: %s", resp.Status)
	}
	var st childStatus
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return nil, err
	}
	return &st, nil
}

// next maps owned partitions to their committed next offsets.
func (s *childStatus) next() map[int32]int64 {
	m := make(map[int32]int64, len(s.Partitions))
	for _, p := range s.Partitions {
		m[p.Partition] = p.Next
	}
	return m
}

// folded returns a counter of the child's folded records for track: the
// last value it could read when the child does not answer.
func (c *child) folded(ctx context.Context) func() int64 {
	var last int64
	return func() int64 {
		if st, err := c.status(ctx); err == nil {
			var n int64
			for _, p := range st.Partitions {
				n += p.Next
			}
			last = n
		}
		return last
	}
}

// cpu returns the child's CPU clock for track.
func (c *child) cpu() time.Duration {
	d, _ := cpuOf(c.pid())
	return d
}

// stoppedChan delivers once the child exits.
func (c *child) stoppedChan() <-chan error {
	ch := make(chan error, 1)
	go func() {
		<-c.done
		ch <- fmt.Errorf("child exited: %v\n%s", c.err, c.logTail())
	}()
	return ch
}

// metric reads one unlabelled sample from the child's /metrics.
func (c *child) metric(ctx context.Context, name string) (float64, bool) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.url+"/metrics", nil)
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f, err == nil
		}
	}
	return 0, false
}

// waitOwned waits until the child owns all n partitions.
func (c *child) waitOwned(ctx context.Context, n int32, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if st, err := c.status(ctx); err == nil && len(st.Partitions) == int(n) {
			return nil
		}
		if c.exited() {
			return fmt.Errorf("child exited: %v\n%s", c.err, c.logTail())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("child did not own %d partitions within %v\n%s", n, timeout, c.logTail())
		}
		if err := sleepCtx(ctx, 20*time.Millisecond); err != nil {
			return err
		}
	}
}
