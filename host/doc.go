// Package host runs call apps against FreeSWITCH nodes: one Listener per
// node (one goroutine owning the node's esl connection, its Lua runtime and
// the session, call and job tracking of switchio's EventListener), a Pool of
// Listeners over many nodes, originate for Go callers and a synchronous
// caller for functional tests.
//
// Data flows one way: the esl reader pushes events, command replies and
// connection state changes, in wire order, into the Listener's bounded inbox;
// the Listener goroutine applies each event to its models.Session, then hands
// it to the Lua runtime (bindings), whose Session commands go back out through
// the connection without ever blocking the Listener goroutine.
//
// Tracking: a session is created by CHANNEL_CREATE or CHANNEL_ORIGINATE
// (either order) and leaves on CHANNEL_DESTROY; its app is read from the app
// header at create; sessions are grouped into calls by the first tracking
// header present (the originating-session X-header for calls we originate,
// else variable_call_uuid), and a call leaves with its last leg. bgapi jobs
// are tracked by their Job-UUID. A parked inbound session that no app takes
// is hung up after Config.ParkTimeout; after a reconnect, sessions that
// vanished from FreeSWITCH are closed with CauseVanished.
//
// The Go API:
//
//   - Dial / DialPool connect; Listener.Load and Pool.Load install apps
//     (bindings.AppSpec) and keep the node subscribed to exactly the events
//     the apps and the tracking use.
//   - Listener.Originate and BgAPI launch bgapi jobs (a models.Job, never
//     blocking); BuildOriginate is switchio's originate command; Command runs
//     one command and waits.
//   - Listener.Do, WaitFor, WaitEvent, Session and Call reach the sessions,
//     which belong to the Listener goroutine.
//   - SyncCaller (switchy's sync_caller) makes one call at a time and returns
//     its answered session, for functional tests of call apps.
//   - Config.OnCallEnd, OnJob and OnEvent, and Stats, are what an
//     originator, a CDR writer or metrics hook into.
package host
