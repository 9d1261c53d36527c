package host_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/switchlua/switchlua/bindings"
	"github.com/switchlua/switchlua/host"
	"github.com/switchlua/switchlua/models"
)

// Run TonePlay on the calls of two FreeSWITCH nodes and originate one call on
// each; a CDR writer would take host.Config.OnCallEnd.
func ExamplePool() {
	ctx := context.Background()
	app, err := bindings.CompileFile("scripts/builtin/toneplay.lua")
	if err != nil {
		log.Fatal(err)
	}
	cfg := host.Config{
		OnCallEnd: func(e host.CallEnd) {
			fmt.Println(e.Node, e.Key, e.Cause, e.Callee.Answer.Sub(e.Caller.Create))
		},
	}
	pool, err := host.DialPool(ctx, []string{"10.0.0.1:8021", "10.0.0.2:8021"}, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	if err := pool.Load(ctx, bindings.AppSpec{ID: "toneplay", Scripts: []bindings.Script{app}}); err != nil {
		log.Fatal(err)
	}
	for _, l := range pool.Listeners() {
		job, err := l.Originate("doggy@10.0.0.9:5080", host.OriginateOptions{App: "toneplay"})
		if err != nil {
			log.Fatal(err)
		}
		<-job.Done()
		fmt.Println(l.Node(), job.Successful(), job.Cause())
	}
	fmt.Printf("%+v\n", pool.Stats())
}

// A functional test of a call app with the synchronous caller (switchy's
// sync_caller): make a call, wait for what the app should do, hang up.
func ExampleSyncCaller() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	app, err := bindings.CompileFile("scripts/builtin/toneplay.lua")
	if err != nil {
		log.Fatal(err)
	}
	c, err := host.NewSyncCaller(ctx, "127.0.0.1:8021", host.Config{},
		bindings.AppSpec{ID: "toneplay", Scripts: []bindings.Script{app}})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	sess, err := c.Call(ctx, "doggy@127.0.0.1:5080", host.OriginateOptions{App: "toneplay"})
	if err != nil {
		log.Fatal(err)
	}
	// The app plays a tone on the outbound leg.
	err = c.WaitFor(ctx, sess, func(s *models.Session) bool {
		return s.Get("variable_current_application") == "playback"
	})
	if err != nil {
		log.Fatal(err)
	}
	c.L.Do(ctx, func() { sess.Hangup("NORMAL_CLEARING", nil) })
}
