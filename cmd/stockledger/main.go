// Command stockledger runs and operates the stock ledger: the processor
// (run), event producer (produce, policy set), readers (tail), the
// reference channel publisher (publish), audits
// (replay, history, verify, backtest) and the checkout API's client (hold).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/stockledger/stockledger/processors"
)

const usage = `stockledger: a stream-processing stock ledger on Kafka.

Usage:
  stockledger run      [--brokers a,b] [--embedded-addr 127.0.0.1:9092] [--data ./data] [--http 127.0.0.1:8080] [--print-config]
  stockledger produce  [--brokers a,b] [--skip-invalid] FILE|-
  stockledger tail     updates|alerts|dead-letters|hold-results|listings|events [--brokers a,b] [--from-beginning] [--exit-at-end]
                       [--sku S] [--channel C] [--partition P] [--offset O]
  stockledger policy set --channel C [--locations a,b] [--buffer N] [--share-pct P] [--max-qty M]
  stockledger replay   [--until-offset P:O,... | --until-time T] [--out DIR]
  stockledger history  SKU [--since T] [--until T] [--format table|jsonl|csv]
  stockledger verify   [--data DIR | --http ADDR]
  stockledger backtest --policies FILE [--until-time T]
  stockledger publish  --channel C --webhook URL --secret S [--rate 5/s] [--burst 20] [--batch 100]
  stockledger hold     --http ADDR [--token T] --sku S --channel C --qty N --ttl 15m [--location L] [--allow-partial] [--hold-id H]
  stockledger hold release --http ADDR [--token T] --sku S --hold-id H

  stockledger --version

Every command that talks to Kafka takes --tls-* and --sasl-* (TLS, SASL).
Run "stockledger COMMAND --help" for a command's flags.
`

// exitError carries an exit status.
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string { return e.err.Error() }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// After the first signal starts a graceful shutdown, a second one
		// gets the default action: the process ends at once.
		<-ctx.Done()
		stop()
	}()
	err := dispatch(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return
	}
	code := 1
	var ee exitError
	if errors.As(err, &ee) {
		code = ee.code
	}
	if err.Error() != "" {
		fmt.Fprintln(os.Stderr, "stockledger:", err)
	}
	os.Exit(code)
}

func dispatch(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitError{2, errors.New("")}
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "run":
		return runCmd(ctx, rest, stdout, stderr)
	case "produce":
		return produceCmd(ctx, rest, stdin, stdout, stderr)
	case "tail":
		return tailCmd(ctx, rest, stdout, stderr)
	case "policy":
		return policyCmd(ctx, rest, stdout, stderr)
	case "replay":
		return replayCmd(ctx, rest, stdout, stderr)
	case "history":
		return historyCmd(ctx, rest, stdout, stderr)
	case "verify":
		return verifyCmd(ctx, rest, stdout, stderr)
	case "backtest":
		return backtestCmd(ctx, rest, stdout, stderr)
	case "publish":
		return publishCmd(ctx, rest, stdout, stderr)
	case "hold":
		return holdCmd(ctx, rest, stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, processors.ReadBuildInfo())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return exitError{2, fmt.Errorf("unknown command %q", cmd)}
}

// newFlags returns a flag set that prints its usage line and flags.
func newFlags(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: stockledger %s\n\nFlags:\n", synopsis)
		printFlags(stderr, fs)
	}
	return fs
}

// commonFlags are the flags a newcomer reaches for first, listed first
// (in this order) by every command that has them.
var commonFlags = []string{"brokers", "embedded-addr", "data", "http", "demo", "topic-prefix", "group", "partitions",
	"from-beginning", "exit-at-end", "sku", "channel", "token", "print-config"}

// printFlags lists fs's flags as the README writes them (--name): the
// common ones first, then the command's others, then the connection
// settings every Kafka command shares (TLS, SASL, schema registry).
func printFlags(w io.Writer, fs *flag.FlagSet) {
	var own, shared []*flag.Flag
	for _, name := range commonFlags {
		if f := fs.Lookup(name); f != nil {
			own = append(own, f)
		}
	}
	fs.VisitAll(func(f *flag.Flag) {
		if slices.Contains(commonFlags, f.Name) {
			return
		}
		if strings.HasPrefix(f.Name, "tls") || strings.HasPrefix(f.Name, "sasl-") || strings.HasPrefix(f.Name, "schema-registry") {
			shared = append(shared, f)
		} else {
			own = append(own, f)
		}
	})
	for i, group := range [][]*flag.Flag{own, shared} {
		if i == 1 && len(group) > 0 {
			fmt.Fprintln(w, "\nConnection (TLS, SASL, schema registry):")
		}
		for _, f := range group {
			typ, usage := flag.UnquoteUsage(f)
			line := "  --" + f.Name
			if typ != "" {
				line += " " + typ
			}
			fmt.Fprintf(w, "%s\n    \t%s", line, strings.ReplaceAll(usage, "\n", "\n    \t"))
			switch {
			case f.DefValue == "" || f.DefValue == "false" || f.DefValue == "0":
			case typ == "string":
				fmt.Fprintf(w, " (default %q)", f.DefValue)
			default:
				fmt.Fprintf(w, " (default %s)", f.DefValue)
			}
			fmt.Fprintln(w)
		}
	}
}

// parse parses flags that may come before or after positional arguments,
// returning the positional ones. A usage error exits with status 2.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, exitError{2, err}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// envOr returns the environment variable's value or def.
func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}
