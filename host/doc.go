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
// are tracked by their Job-UUID. After a reconnect, sessions that vanished
// from FreeSWITCH are closed with CauseVanished.
//
// Park timeout: a parked inbound session that nothing takes is hung up after
// Config.ParkTimeout (switchio issue #47), but only where switchlua is
// responsible for it, so that sharing a FreeSWITCH never costs someone else
// a call and a passive app never kills calls it only watches. That is: a leg
// of a call the Listener originated (its sip_h_X-switchlua_originating_session
// is one of our origination uuids), or a session whose app is loaded and
// handles the park (defines on_park or on("CHANNEL_PARK", fn); the app is
// its sip_h_X-switchlua_app, or the default app when it has none, as in
// serve mode). Under `switchlua run`, where no default app is loaded, and
// under `serve` with an app that has no on_park, the node's other inbound
// calls are never touched.
//
// Background jobs reach the apps through on_job: the job of an originate
// goes to the app its legs run, with its session, or with none when the
// originate failed before any channel existed (see Listener.Originate).
//
// The Go API:
//
//   - Dial / DialPool connect; Pool.Add and Pool.Remove change the nodes of
//     a pool later. Listener.Load and Pool.Load install apps
//     (bindings.AppSpec) and keep the node subscribed to exactly the events
//     the apps and the tracking use; an error matching ErrSubscribe says
//     the apps are live but the subscription lags (retried by itself).
//   - Listener.Originate and BgAPI launch bgapi jobs (a models.Job, never
//     blocking); BuildOriginate is switchio's originate command; Command runs
//     one command and waits. BackgroundAPI runs a bgapi with a callback on
//     the Listener goroutine: it is how the Lua side's switchlua.api and
//     ctx.api run (a plain api would hold up the node's events while it
//     runs; BACKGROUND_JOB is always subscribed, see TrackingEvents).
//   - Listener.Do, WaitFor, WaitEvent, Session and Call reach the sessions,
//     which belong to the Listener goroutine.
//   - SyncCaller (switchy's sync_caller) makes one call at a time and returns
//     its answered session, for functional tests of call apps.
//   - Config.OnCallEnd, OnJob and OnEvent, and Stats, are what an
//     originator, a CDR writer or metrics hook into; Active and Connected
//     are the cheap (atomic, copy-free) figures for per-call fields and
//     status lines, where Stats copies its maps.
package host
