package esl_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/switchlua/switchlua/esl"
	"github.com/switchlua/switchlua/esl/esltest"
)

// Dial, run an api command, subscribe and read events in arrival order. The
// server here is esltest replaying a real capture's events.
func ExampleDial() {
	frames, _ := esltest.LoadFrames("../testdata/transcripts/session.raw")
	srv, _ := esltest.Start(esltest.Config{Frames: frames[:3]})
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := esl.Dial(ctx, srv.Addr(), esl.Options{Password: "ClueCon"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	reply, err := c.API(ctx, "status")
	fmt.Println(reply, err)

	if err := c.Subscribe(ctx, "CHANNEL_CREATE", "CHANNEL_ANSWER"); err != nil {
		fmt.Println(err)
		return
	}
	for i := 0; i < 3; i++ {
		ev := <-c.Events()
		fmt.Println(ev.Name(), ev.UUID(), ev.Get("Channel-State"))
	}
	// Output:
	// +OK <nil>
	// CHANNEL_CREATE 5c6d46e0-4a55-4ef0-8cb8-b054434fcd50 CS_INIT
	// CHANNEL_CREATE ed6d7e90-c222-412e-9fba-b1382483b5f6 CS_INIT
	// CHANNEL_PARK ed6d7e90-c222-412e-9fba-b1382483b5f6 CS_EXECUTE
}

// Handler mode: events, reply callbacks and state changes all arrive on the
// connection's reader goroutine in wire order, ready to be funnelled into one
// queue.
func ExampleOptions_handler() {
	srv, _ := esltest.Start(esltest.Config{BackgroundJobs: true})
	defer srv.Close()

	inbox := make(chan string, 16)
	ctx := context.Background()
	c, err := esl.Dial(ctx, srv.Addr(), esl.Options{
		Handler: func(ev *esl.Event) { inbox <- "event " + ev.Name() },
		OnState: func(sc esl.StateChange) { inbox <- "state " + sc.State.String() },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	c.SendAsync("api uuid_answer 5c6d46e0", func(reply string, err error) { inbox <- "reply " + reply })
	c.BgAPIAsync("originate sofia/external/test@127.0.0.1:5080 &park()", "", func(ev *esl.Event, err error) {
		inbox <- "job " + strings.TrimSpace(ev.Body())
	})
	for i := 0; i < 3; i++ {
		fmt.Println(<-inbox)
	}
	c.Close()
	<-c.Done()
	fmt.Println(<-inbox)
	// Output:
	// reply +OK
	// job +OK
	// event BACKGROUND_JOB
	// state closed
}
