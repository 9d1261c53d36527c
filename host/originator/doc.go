// Package originator is switchlua's load generator: switchio's Originator on
// a host.Pool. It offers calls at a rate (calls/s) up to a limit of
// concurrent calls (erlangs), spreads them over the pool's nodes and over
// weighted apps, hangs each up after its duration, and counts what happened.
//
// Wiring (what the CLI does):
//
//	o, err := originator.New(originator.Config{Rate: 50, Limit: 100, MaxOffered: 300,
//		Apps: []originator.App{{ID: "toneplay", Weight: 1}},
//		OnCallEnd: func(r cdr.Row) { w.Write(r); sum.CallEnded(r) },
//		OnOffer:   func(of originator.Offer) { sum.Offered(of.Time) }})
//	hc := host.Config{Password: pw}
//	o.Hook(&hc)                        // before dialing: the Originator sees call ends and jobs
//	pool, err := host.DialPool(ctx, nodes, hc)
//	// load the apps on the pool ...
//	err = o.Attach(ctx, pool)          // node set-up (fsctl sps/max_sessions), self-call addresses
//	err = o.Start()
//	err = o.Wait(ctx)                  // until STOPPED (max-offered reached and calls ended, or Stop)
//
// States: INITIAL, ORIGINATING (offering), STOPPING (no more offers; waiting
// for our calls to end) and STOPPED (no call of ours left). Max-offered moves
// ORIGINATING to STOPPING by itself; Stop does it at once and, with hangup,
// kills our calls (uuid_kill per call, so only our calls, on FreeSWITCH and
// on the simulator alike). A call not answered yet that ends so is
// cancelled (Counts.Cancelled, cdr.Row.Cancelled), not failed: we gave it
// up, the node did nothing wrong. Start from STOPPING or STOPPED originates
// again.
//
// Pacing: offers are spread evenly over each second by a fine-grained pacer
// (one offer every 1/rate s; after a stall of its own it catches up at most
// 50 ms of offers at once and counts the rest as Missed), never while Limit
// calls are active; offers held back by the limit are not caught up later.
// A call is active from its originate until its last leg is destroyed, or
// until its originate job failed with no channel. Rate, limit, duration, max-offered and app weights can be changed
// while running.
//
// Hangup: every call gets a deadline when it is offered: its offer time plus
// the duration, answered or not, so every call we offered is gone by then
// (a FreeSWITCH engineer's expectation: an app that never answers must not
// keep calls ringing or parked until originate_timeout or the park timeout).
// At the deadline the Originator reads call.vars.noautohangup on the node's
// Listener goroutine (a Lua app sets it with `sess.call.vars.noautohangup =
// true` any time before) and, unless set, kills the call's outbound leg:
// `uuid_kill <uuid> NORMAL_CLEARING` when it was answered, `uuid_kill <uuid>
// ALLOTTED_TIMEOUT` when it was not (failed_by_cause shows such calls as
// ALLOTTED_TIMEOUT, apart from the far end's NO_ANSWER). A call whose legs
// the host has not seen yet (the originate is still in progress) is killed
// by its origination_uuid. A call still up 2 s after its kill (the kill was
// lost with a connection) is killed again. This differs from switchio's
// `sched_hangup +N` after the answer, which FreeSWITCH rounds to whole epoch
// seconds (a call may end up to a second early), cannot express a
// sub-second duration and leaves unanswered calls alone; the cost is the
// same, one api command per call. Calls still up if switchlua dies can be
// cleared with `hupall NORMAL_CLEARING sip_h_X-switchlua_app <app id>`.
//
// Lost nodes: a node whose connection stays down longer than
// Config.LostAfter (default: the longer of 10 s and the call duration) is
// lost: its calls end as failed with host.CauseLostConnection, each with a
// CDR row (answered ones with their create and answer times), and
// NodeCounts.Lost is set. It gets no calls while down; if it reconnects, the
// channels of the calls given up are killed and it gets calls again. The
// CLI ends a run once every node is lost.
//
// Node set-up (Attach, unless Config.NoSetup), as switchio's setup(): raise
// `fsctl sps` and `fsctl max_sessions` to what the rate and limit need
// (never lowering them, and to at least MinSPS and MinMaxSessions, 10000
// each, as switchio; when it raised sps, Attach waits 1.1 s for
// FreeSWITCH's once-a-second refill of the budget, or the first second's
// calls beyond the old one would fail), and `fsctl verbose_events true`
// when the apps subscribe to channel events that FreeSWITCH sends without
// channel variables otherwise (DTMF, CHANNEL_CALLSTATE, CHANNEL_STATE, ...:
// any channel event but the create/answer/park/bridge/hangup/destroy,
// execute, playback and record ones), judged from the node's subscription
// when it is set up, or when Config.VerboseEvents asks for it.
// verbose_events is a global FreeSWITCH setting and is not turned off
// afterwards. A node takes at most
// max_sessions/2 calls (two legs each) or Config.NodeLimits[node]; a node at
// its capacity, disconnected or closed is skipped.
//
// Nodes joining and leaving: the Originator follows Pool.Listeners. A node
// added later joins like this (hc is the hooked host.Config):
//
//	l, err := host.Dial(ctx, addr, hc)
//	err = mgr.Attach(ctx, l)           // its apps first (apps.Manager)
//	err = pool.Add(l)                  // then the Originator sets it up and sends it calls
//
// A node taken out with Pool.Remove gets no new calls; its calls in progress
// end as usual, then it leaves Counts.Nodes.
package originator
