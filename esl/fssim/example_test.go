package fssim_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/switchlua/switchlua/esl"
	"github.com/switchlua/switchlua/esl/fssim"
)

// A self-call on the simulator: originate to its own SIP address, answer
// the inbound leg when it parks, read the job result.
func Example() {
	s := fssim.New(fssim.Config{})
	addr, err := s.Start("127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer s.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := esl.Dial(ctx, addr, esl.Options{})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	_ = c.Subscribe(ctx, "CHANNEL_PARK", "BACKGROUND_JOB")

	job, _ := c.BgAPI(ctx, "originate {origination_uuid=2f4e0000-0000-4000-8000-000000000001}"+
		"sofia/external/alice@127.0.0.1:5080 &park()")
	for ev := range c.Events() {
		if ev.Name() == "CHANNEL_PARK" && ev.Get("Call-Direction") == "inbound" {
			fmt.Println("parked:", ev.Get("Caller-Destination-Number"), ev.Get("Channel-Call-State"))
			reply, _ := c.API(ctx, "uuid_answer "+ev.UUID())
			fmt.Println("uuid_answer:", reply)
			break
		}
	}
	res, _ := job.Wait(ctx)
	fmt.Println("job:", strings.TrimSpace(res.Body()))
	// Output:
	// parked: alice RINGING
	// uuid_answer: +OK
	// job: +OK 2f4e0000-0000-4000-8000-000000000001
}

// The fault knobs: a share of originates fails with a cause of your choice.
func ExampleSim_SetFailure() {
	s := fssim.New(fssim.Config{})
	addr, _ := s.Start("127.0.0.1:0")
	defer s.Close()
	s.SetFailure(1, "USER_BUSY")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _ := esl.Dial(ctx, addr, esl.Options{})
	defer c.Close()
	_, err := c.API(ctx, "originate sofia/external/bob@127.0.0.1:5080 &park()")
	fmt.Println(err)
	// Output: -ERR USER_BUSY
}
