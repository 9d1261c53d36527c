package models_test

import (
	"fmt"
	"time"

	"github.com/switchlua/switchlua/models"
	"github.com/switchlua/switchlua/models/modelstest"
)

// A session is made from its first channel event and sends switchio's wire
// commands through a Sender (an *esl.Conn in the host, a fake here).
func ExampleSession_Answer() {
	snd := &modelstest.Sender{}
	sess := models.NewSession(modelstest.NewEvent(
		"Event-Name", "CHANNEL_CREATE",
		"Unique-ID", "d3bd5799",
		"Call-Direction", "inbound",
	), "127.0.0.1:8021", snd)

	sess.Answer(func(reply string, err error) {
		fmt.Println("reply:", reply, err)
	})
	fmt.Println(snd.Last())
	fmt.Println("inbound:", sess.IsInbound())
	// Output:
	// reply: +OK <nil>
	// api uuid_answer d3bd5799
	// inbound: true
}

// Dialplan apps go out as sendmsg execute; a "-ERR" reply reaches done as an
// error whose text is the whole reply.
func ExampleSession_Bridge() {
	snd := (&modelstest.Sender{}).On("api uuid_kill", "-ERR No such channel!")
	sess := models.NewSession(modelstest.NewEvent("Event-Name", "CHANNEL_PARK", "Unique-ID", "d3bd5799"), "n", snd)

	sess.Bridge(models.BridgeOptions{Profile: "external", DestURL: "1000@10.0.0.2", Params: map[string]string{"leg_timeout": "30"}}, nil)
	fmt.Println(snd.Last())
	sess.Hangup("", func(_ string, err error) { fmt.Println(err) })
	// Output:
	// sendmsg d3bd5799
	// call-command: execute
	// execute-app-name: bridge
	// execute-app-arg: {leg_timeout=30}sofia/external/1000@10.0.0.2
	// loops: 1
	// -ERR No such channel!
}

// Update keeps the newest value of every header the session has seen.
func ExampleSession_Update() {
	sess := models.NewSession(modelstest.NewEvent(
		"Event-Name", "CHANNEL_CREATE", "Unique-ID", "u1",
		"Event-Date-Timestamp", "1795374504400996", "variable_sip_req_uri", "1000@10.0.0.2",
	), "n", nil)
	sess.Update(modelstest.NewEvent(
		"Event-Name", "CHANNEL_ANSWER", "Unique-ID", "u1", "Event-Date-Timestamp", "1795374504440998",
	))
	fmt.Println(sess.Answered, sess.Get("variable_sip_req_uri"))
	fmt.Println(sess.Times.Answer.Sub(sess.Times.Create))
	for _, h := range sess.History() {
		fmt.Println(h.Name)
	}
	// Output:
	// true 1000@10.0.0.2
	// 40.002ms
	// CHANNEL_CREATE
	// CHANNEL_ANSWER
}

// A Job completes with its BACKGROUND_JOB event.
func ExampleJob_Complete() {
	job := models.NewJob("70b00000", "5e1f0000", "originate ...", time.Now())
	job.Complete(modelstest.NewEvent("Event-Name", "BACKGROUND_JOB", "Job-UUID", "70b00000").
		WithBody("-ERR NORMAL_TEMPORARY_FAILURE\n"))
	<-job.Done()
	fmt.Println(job.Successful(), job.Cause())
	// Output: false NORMAL_TEMPORARY_FAILURE
}
