package bindings_test

import (
	"fmt"

	"github.com/switchlua/switchlua/bindings"
	"github.com/switchlua/switchlua/models"
	"github.com/switchlua/switchlua/models/modelstest"
)

// host is the smallest Host: this example needs no timers or api calls.
type host struct{ posted []func() }

func (h *host) Post(fn func())                           { h.posted = append(h.posted, fn) }
func (h *host) API(cmd string, done func(string, error)) { h.Post(func() { done("+OK", nil) }) }
func (h *host) Node() string                             { return "127.0.0.1:8021" }
func (h *host) BackgroundAPI(cmd string, done func(string, error)) {
	h.Post(func() { done("+OK", nil) })
}

// A Listener loads an app, then applies each event to its session and hands
// it to the Runtime; the app's commands go out through the session's Sender.
func Example() {
	rt, err := bindings.New(&host{}, bindings.Options{})
	if err != nil {
		panic(err)
	}
	defer rt.Close()
	script, err := bindings.CompileScript("toneplay.lua", []byte(`
		function on_park(sess)
		  if sess:is_inbound() then sess:answer() end
		end
		function on_answer(sess)
		  if sess:is_inbound() then sess:echo() end
		end`))
	if err != nil {
		panic(err)
	}
	if err := rt.Load(bindings.AppSpec{ID: "default", Scripts: []bindings.Script{script}}); err != nil {
		panic(err)
	}
	fmt.Println(rt.Events())

	sender := &modelstest.Sender{} // answers every command with +OK
	create := modelstest.NewEvent("Event-Name", "CHANNEL_CREATE", "Unique-ID", "b1", "Call-Direction", "inbound")
	sess := models.NewSession(create, "127.0.0.1:8021", sender)
	rt.Dispatch(sess, create)
	for _, name := range []string{"CHANNEL_PARK", "CHANNEL_ANSWER"} {
		ev := modelstest.NewEvent("Event-Name", name, "Unique-ID", "b1")
		sess.Update(ev)
		rt.Dispatch(sess, ev)
	}
	for _, cmd := range sender.Sent() {
		fmt.Printf("%q\n", cmd)
	}
	// Output:
	// [CHANNEL_ANSWER CHANNEL_PARK]
	// "api uuid_answer b1"
	// "sendmsg b1\ncall-command: execute\nexecute-app-name: echo\nloops: 1"
}
