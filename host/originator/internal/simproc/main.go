// Command simproc runs the FreeSWITCH simulator (esl/fssim) alone in its own
// process, for the Originator's benchmark: the load generator and the
// "switch" then use separate CPU and memory, as with a real FreeSWITCH.
//
// It listens on -listen (default 127.0.0.1:0, a free port), prints
// "listening ADDR" on stdout and serves until its stdin is closed or it
// gets SIGINT/SIGTERM; then it prints "stats JSON" (the simulator's
// counters and live channels) and exits. -cpuprofile writes a CPU profile
// of the whole run.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/switchlua/switchlua/esl/fssim"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "ESL listen address")
	password := flag.String("password", "ClueCon", "ESL password")
	autoAnswer := flag.Bool("auto-answer", false, "inbound self-call legs answer themselves")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile to this file")
	flag.Parse()

	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fail(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fail(err)
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}

	sim := fssim.New(fssim.Config{Password: *password, AutoAnswer: *autoAnswer, HeartbeatInterval: -1})
	addr, err := sim.Start(*listen)
	if err != nil {
		fail(err)
	}
	fmt.Printf("listening %s\n", addr)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		_, _ = io.Copy(io.Discard, bufio.NewReader(os.Stdin))
		stop()
	}()
	<-ctx.Done()

	st := sim.Stats()
	_ = sim.Close()
	b, _ := json.Marshal(st)
	fmt.Printf("stats %s\n", b)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "simproc:", err)
	os.Exit(1)
}
