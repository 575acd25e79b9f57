package main

import (
	"errors"
	"fmt"
	"net"
	"syscall"
)

// A newcomer's `make run` on a machine where Kafka or another server
// already holds 9092 or 8080 should say what to do, before it starts
// anything: checkPorts tries each address run will listen on.

// listenAddr is an address run listens on, and what for.
type listenAddr struct {
	addr, what, flag, makeVar string
}

// runAddrs lists the addresses c makes run listen on.
func runAddrs(c *runConfig) []listenAddr {
	var out []listenAddr
	if len(c.Processor.Brokers) == 0 {
		out = append(out, listenAddr{c.EmbeddedAddr, "the embedded Kafka broker", "--embedded-addr", "KAFKA_PORT"})
	}
	if c.HTTP.Addr != "" {
		out = append(out, listenAddr{c.HTTP.Addr, "the HTTP API", "--http", "HTTP_PORT"})
	}
	return out
}

// checkPorts returns an exit error naming every address of c that another
// program holds, and how to choose others.
func checkPorts(c *runConfig) error {
	var taken []listenAddr
	for _, a := range runAddrs(c) {
		ln, err := net.Listen("tcp", a.addr)
		if err != nil {
			if errors.Is(err, syscall.EADDRINUSE) {
				taken = append(taken, a)
				continue
			}
			return exitError{2, fmt.Errorf("%s (%s): %w", a.addr, a.what, err)}
		}
		ln.Close()
	}
	if len(taken) == 0 {
		return nil
	}
	msg := ""
	for _, a := range taken {
		msg += fmt.Sprintf("%s (%s) is in use by another program\n", a.addr, a.what)
	}
	msg += "choose free ports, for example:\n" +
		"  make run KAFKA_PORT=29092 HTTP_PORT=28080\n" +
		"  (or: stockledger run --embedded-addr 127.0.0.1:29092 --http 127.0.0.1:28080)\n" +
		"and give the other commands the same ones:\n" +
		"  export STOCKLEDGER_BROKERS=127.0.0.1:29092 HTTP_PORT=28080\n" +
		"  (the README's commands use $STOCKLEDGER_BROKERS and $HTTP_PORT when set)"
	return exitError{2, errors.New(msg)}
}
