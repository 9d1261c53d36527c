package fssim

import (
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

var userSeq atomic.Int64

func newUser() string { return "u" + strconv.FormatInt(userSeq.Add(1), 10) }

// subscribeAll subscribes c to every channel event the tests look at.
func (c *rawClient) subscribeAll() {
	c.t.Helper()
	if r := c.cmd("event plain ALL").get("Reply-Text"); r != "+OK event listener enabled plain" {
		c.t.Fatalf("event: %q", r)
	}
}

// originate starts a bgapi self-call to user (extra goes into the {vars})
// and returns its outbound uuid and Job-UUID.
func (c *rawClient) originate(user, vars, app string) (out, job string) {
	c.t.Helper()
	out = "0a000000-0000-4000-8000-" + strconv.FormatInt(1e11+userSeq.Add(1), 10)
	job = "0b000000-0000-4000-8000-" + strconv.FormatInt(1e11+userSeq.Add(1), 10)
	if vars != "" {
		vars = "," + vars
	}
	if app == "" {
		app = "&park()"
	}
	f := c.cmd("bgapi originate {origination_uuid=" + out + vars + "}sofia/external/" + user + "@127.0.0.1:5080 " +
		app + "\nJob-UUID: " + job)
	if f.get("Reply-Text") != "+OK Job-UUID: "+job {
		c.t.Fatalf("bgapi originate: %q", f.raw)
	}
	return out, job
}

// parkedIn waits for the inbound leg to user to park and returns its uuid.
func (c *rawClient) parkedIn(user string) string {
	c.t.Helper()
	f := c.waitEvent("inbound CHANNEL_PARK to "+user, func(f *rawFrame) bool {
		return f.name() == "CHANNEL_PARK" && f.ev("Call-Direction") == "inbound" && f.ev("Caller-Destination-Number") == user
	})
	return f.ev("Unique-ID")
}

// jobResult waits for the BACKGROUND_JOB of job and returns its body.
func (c *rawClient) jobResult(job string) string {
	c.t.Helper()
	f := c.waitEvent("BACKGROUND_JOB "+job, func(f *rawFrame) bool {
		return f.name() == "BACKGROUND_JOB" && f.ev("Job-UUID") == job
	})
	return f.evBody
}

// answeredCall sets up a self-call whose inbound leg is answered and whose
// outbound leg parks.
func (c *rawClient) answeredCall() (out, in string) {
	c.t.Helper()
	user := newUser()
	out, job := c.originate(user, "", "")
	in = c.parkedIn(user)
	if b := c.api("uuid_answer " + in); b != "+OK\n" {
		c.t.Fatalf("uuid_answer: %q", b)
	}
	if r := c.jobResult(job); r != "+OK "+out+"\n" {
		c.t.Fatalf("job: %q", r)
	}
	c.waitEvent("outbound park", evIs("CHANNEL_PARK", out))
	return out, in
}

// noEvents asserts that no event of uuid arrives within d.
func (c *rawClient) noEventsOf(uuid string, d time.Duration) {
	c.t.Helper()
	time.Sleep(d)
	if evs := c.eventsOf(uuid); len(evs) > 0 {
		c.t.Errorf("unexpected events of %s: %v", uuid, evs)
	}
}

func hasLine(s, line string) bool {
	for _, l := range strings.Split(s, "\n") {
		if l == line {
			return true
		}
	}
	return false
}
