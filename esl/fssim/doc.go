// Package fssim is a FreeSWITCH simulator: a Go ESL server (inbound mode)
// that behaves like FreeSWITCH 1.11 to the degree an ESL client can tell. It
// is how switchlua's tests and demos run without a FreeSWITCH, and the
// embedded default of `switchlua run`. The real captures in
// testdata/transcripts are its specification; its tests replay them.
//
// # Use
//
//	s := fssim.New(fssim.Config{})          // defaults: ClueCon, host vm, sps 30, max 1000
//	addr, err := s.Start("127.0.0.1:0")     // serve in the background
//	defer s.Close()
//
// or, as a process (`switchlua sim`): fssim.New(cfg).ListenAndServe(ctx).
// End-to-end tests should not start it themselves but use esl/fssim/fstest,
// which can also point them at a real FreeSWITCH.
//
// # The ESL side
//
// auth and userauth (a wrong password gets -ERR invalid, the disconnect
// notice and a close, as badauth.raw), event plain (names, ALL, CUSTOM
// subclasses), nixevent, noevents, myevents, filter (positive, negative,
// /regex/, delete, FreeSWITCH's semantics: with any filter only matching
// events pass), api, bgapi (the client's own Job-UUID header is honoured),
// sendmsg (call-command execute or hangup; execute-app-arg or a text/plain
// body; loops; event-lock; Event-UUID becomes the Application-UUID; any
// header case, LF or CRLF; the message is fired as PRIVATE_COMMAND once it
// has run), sendevent (the client's headers and body fired as the named
// event, CUSTOM with its Event-Subclass, to the listeners that want it; with
// the Unique-ID of a channel, to that channel: park fires it, playback eats
// it), log/nolog, exit. The reply to a command is written before the events
// it causes, as FreeSWITCH does, and a connection gets no event while its
// api runs: the events of a blocking `api originate` come after its
// api/response (other connections get them as they happen). Events are
// serialized once, in
// FreeSWITCH's plain format (url-encoded values, Content-Length first, a
// global Event-Sequence, microsecond timestamps), into pooled buffers shared
// by the connections that get them; each connection has its own queue and
// writer, so a slow client never stalls the simulator: past
// Config.MaxQueuedEvents its events are lost and after 500 lost it is killed
// with FreeSWITCH's notice.
//
// # Calls
//
// An originate to the simulator's own SIP address
// (sofia/external/<user>@127.0.0.1:5080 or the internal profile's :5060) is
// a self-call: an outbound leg, and an inbound leg that parks in RINGING in
// the profile's context. The originate's {vars} are on the outbound leg, its
// sip_h_* vars on the inbound leg (variable_sip_h_X-...), as FreeSWITCH shows
// them. Answering the inbound leg (uuid_answer, the answer app) gives, in the
// captured order, the inbound CHANNEL_ANSWER, the outbound CHANNEL_ANSWER,
// the originate's BACKGROUND_JOB +OK, then the outbound leg runs the
// originate's application (&park(), &echo(), &playback(...), ...). A hangup
// runs CHANNEL_HANGUP, the running applications' CHANNEL_EXECUTE_COMPLETE,
// CHANNEL_HANGUP_COMPLETE (with the CDR variables) and CHANNEL_DESTROY, then
// the other leg does the same with the cause a BYE carries (NORMAL_CLEARING
// for a normal hangup). CHANNEL_STATE and CHANNEL_CALLSTATE come where the
// load capture has them. Every variable is set in the order FreeSWITCH sets
// it, so even the order of the variable_* headers matches the captures.
// loopback/<exten>[/<context>] calls work too; other destinations fail like
// an originate to a dead SIP port (-ERR NORMAL_TEMPORARY_FAILURE, no channel
// events), error/<cause> fails with that cause.
//
// Applications: park, answer, pre_answer, hangup, playback (tone_stream
// lengths from their %(on,off,freq) segments and loops, silence_stream, other
// files Config.FileDuration; loops=-1 and silence_stream://0 until
// uuid_break), endless_playback, gentones, echo, sleep, set, unset, export,
// multiset, respond, bridge, record_session, stop_record_session, record,
// sched_hangup, send_dtmf, transfer (parks), and many no-ops. An unknown
// application hangs the leg up with DESTINATION_OUT_OF_ORDER, as FreeSWITCH.
// Messages (sendmsg, uuid_broadcast) run when the leg's application parses
// events, as FreeSWITCH's switch_ivr_parse_all_events: at once, nested, in
// park, echo, sleep, playback, gentones, record and bridge (the application
// goes on after them; a playback's file does not advance meanwhile), unless
// a message with event-lock runs. uuid_break stops the running application
// if it tests CF_BREAK (playback, sleep, record); during a message it also
// stops the playback or sleep the message ran in. endless_playback starts
// its file again after its end and after uuid_break: only the hangup (or
// uuid_park, transfer) ends it. A DTMF of playback_terminators (default
// "*") ends a playback.
//
// DTMF (uuid_send_dtmf, send_dtmf) follows switch_core_session_send_dtmf_string:
// '+'-separated groups with an optional @ms digit length (fsctl
// default/min/max_dtmf_duration apply), w/W pauses; the peer gets one DTMF
// event a digit with the length RTP carries (2000 samples: 2080), digits
// twice their length apart, as captured (Config.DTMFDuration scales time).
//
// Api commands: originate, uuid_answer, uuid_kill, uuid_park, uuid_break,
// uuid_broadcast, uuid_getvar, uuid_setvar, uuid_setvar_multi,
// uuid_send_dtmf (DTMF events on the peer, one a digit), uuid_record,
// uuid_audio, uuid_media, uuid_bridge, uuid_exists, uuid_transfer,
// sched_hangup, sched_api, sched_del, hupall, status, show channels,
// sofia status [profile X], fsctl, global_getvar/setvar, version, uptime,
// hostname; anything else is "-ERR <cmd> Command not found!". Reply texts
// are mod_commands's.
//
// # Limits and faults
//
// FreeSWITCH's own limits apply: sessions-per-second (default 30; it admits
// one leg fewer a second) and max-sessions (default 1000), changed with
// fsctl sps/max_sessions or the setters. An originate whose outbound leg is
// refused fails with DESTINATION_OUT_OF_ORDER, one whose inbound leg is
// refused with NORMAL_TEMPORARY_FAILURE, with no channel events (the causes
// the load capture's run reported). Fault knobs: Config.AnswerDelay,
// AutoAnswer, FailRate/FailCause, DropAfterEvents, and the methods
// DropConnections, SetFailure, SetAnswerDelay, SetPassword...
// Config.Validate checks a configuration (a FailCause must be a FreeSWITCH
// hangup cause).
//
// # What it does not do
//
// No media, no SIP: nothing is heard, a self-call only exists inside the
// simulator. Events are plain only (event json/xml are answered but sent
// plain). No dialplan: inbound legs park whatever the context, and a
// transfer parks. Outbound mode (socket app) is not simulated.
package fssim
