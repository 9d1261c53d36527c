package bindings

import (
	"reflect"
	"sort"
	"strings"
	"unicode"
)

// callbackEvents maps each global callback name to the ESL event it handles.
var callbackEvents = map[string]string{
	"on_create":           "CHANNEL_CREATE",
	"on_originate":        "CHANNEL_ORIGINATE",
	"on_park":             "CHANNEL_PARK",
	"on_answer":           "CHANNEL_ANSWER",
	"on_bridge":           "CHANNEL_BRIDGE",
	"on_unbridge":         "CHANNEL_UNBRIDGE",
	"on_hangup":           "CHANNEL_HANGUP",
	"on_destroy":          "CHANNEL_DESTROY",
	"on_dtmf":             "DTMF",
	"on_playback_start":   "PLAYBACK_START",
	"on_playback_stop":    "PLAYBACK_STOP",
	"on_record_start":     "RECORD_START",
	"on_record_stop":      "RECORD_STOP",
	"on_callstate":        "CHANNEL_CALLSTATE",
	"on_execute_complete": "CHANNEL_EXECUTE_COMPLETE",
	"on_job":              "BACKGROUND_JOB",
}

// eventCallbacks is callbackEvents reversed (on_job excluded: jobs arrive
// through DispatchJob).
var eventCallbacks = func() map[string]string {
	m := make(map[string]string, len(callbackEvents))
	for cb, ev := range callbackEvents {
		if cb != "on_job" {
			m[ev] = cb
		}
	}
	return m
}()

// KnownCallbacks returns the global callback names a script may define, sorted:
// the on_* event callbacks plus setup and teardown. The `check` command uses it
// to flag likely typos (an on_* global that is not in this list).
func KnownCallbacks() []string {
	out := make([]string, 0, len(callbackEvents)+2)
	for cb := range callbackEvents {
		out = append(out, cb)
	}
	out = append(out, "setup", "teardown")
	sort.Strings(out)
	return out
}

// CallbackEvent returns the ESL event name a callback global handles
// ("on_park" -> "CHANNEL_PARK"); ok is false for an unknown name.
func CallbackEvent(callback string) (event string, ok bool) {
	event, ok = callbackEvents[callback]
	return event, ok
}

// eslEvents are FreeSWITCH's event type names (EVENT_NAMES in
// src/switch_event.c, the order of switch_event_types_t), without "ALL",
// which subscribes to everything but is no event an app can receive. A
// string constant in a script equal to one of these (e.g. the argument of
// sess:wait("DTMF")) makes Events() subscribe to it; on(name) and
// sess:wait(name) accept only these, CUSTOM and CUSTOM subclasses.
var eslEvents = toSet(`CUSTOM CLONE CHANNEL_CREATE CHANNEL_DESTROY CHANNEL_STATE CHANNEL_CALLSTATE
CHANNEL_ANSWER CHANNEL_HANGUP CHANNEL_HANGUP_COMPLETE CHANNEL_EXECUTE CHANNEL_EXECUTE_COMPLETE
CHANNEL_HOLD CHANNEL_UNHOLD CHANNEL_BRIDGE CHANNEL_UNBRIDGE CHANNEL_PROGRESS CHANNEL_PROGRESS_MEDIA
CHANNEL_OUTGOING CHANNEL_PARK CHANNEL_UNPARK CHANNEL_APPLICATION CHANNEL_ORIGINATE CHANNEL_UUID API
LOG INBOUND_CHAN OUTBOUND_CHAN STARTUP SHUTDOWN PUBLISH UNPUBLISH TALK NOTALK SESSION_CRASH
MODULE_LOAD MODULE_UNLOAD DTMF MESSAGE PRESENCE_IN NOTIFY_IN PRESENCE_OUT PRESENCE_PROBE
MESSAGE_WAITING MESSAGE_QUERY ROSTER CODEC BACKGROUND_JOB DETECTED_SPEECH DETECTED_TONE
PRIVATE_COMMAND HEARTBEAT TRAP ADD_SCHEDULE DEL_SCHEDULE EXE_SCHEDULE RE_SCHEDULE RELOADXML NOTIFY
PHONE_FEATURE PHONE_FEATURE_SUBSCRIBE SEND_MESSAGE RECV_MESSAGE REQUEST_PARAMS CHANNEL_DATA GENERAL
COMMAND SESSION_HEARTBEAT CLIENT_DISCONNECTED SERVER_DISCONNECTED SEND_INFO RECV_INFO RECV_RTCP_MESSAGE
SEND_RTCP_MESSAGE CALL_SECURE NAT RECORD_START RECORD_STOP PLAYBACK_START PLAYBACK_STOP CALL_UPDATE
FAILURE SOCKET_DATA MEDIA_BUG_START MEDIA_BUG_STOP CONFERENCE_DATA_QUERY CONFERENCE_DATA CALL_SETUP_REQ
CALL_SETUP_RESULT CALL_DETAIL DEVICE_STATE TEXT SHUTDOWN_REQUESTED CERT_RELOAD`)

func toSet(words string) map[string]bool {
	m := make(map[string]bool)
	for _, w := range strings.Fields(words) {
		m[w] = true
	}
	return m
}

// hangupFamily reports whether an event comes at or after a hangup, so a
// wait for it is not cut short by the hangup.
func hangupFamily(name string) bool {
	switch name {
	case "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "CHANNEL_DESTROY":
		return true
	}
	return false
}

// subscription turns a dispatch key (event name, or "sub::class" for CUSTOM)
// into an ESL subscription name.
func subscription(key string) string {
	if strings.Contains(key, "::") {
		return "CUSTOM " + key
	}
	return key
}

// snake converts a Go name to snake_case, keeping acronyms together:
// DestURL -> dest_url, SessUUID -> sess_uuid, RxOnly -> rx_only.
func snake(name string) string {
	rs := []rune(name)
	var b strings.Builder
	b.Grow(len(name) + 4)
	for i, r := range rs {
		if unicode.IsUpper(r) {
			if i > 0 {
				prev := rs[i-1]
				nextLower := i+1 < len(rs) && unicode.IsLower(rs[i+1])
				if unicode.IsLower(prev) || unicode.IsDigit(prev) || (unicode.IsUpper(prev) && nextLower) {
					b.WriteByte('_')
				}
			}
			b.WriteRune(unicode.ToLower(r))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// hidden are Go names luar must not expose to Lua: binding-layer slots,
// channels, Go errors (opaque userdata in Lua) and embedded wrappers.
var hidden = map[string]bool{"Ext": true, "Done": true, "Err": true, "Job": true, "Launch": true}

func luarFieldNames(_ reflect.Type, f reflect.StructField) []string {
	if hidden[f.Name] {
		return nil
	}
	return []string{snake(f.Name)}
}

func luarMethodNames(_ reflect.Type, m reflect.Method) []string {
	if hidden[m.Name] {
		return nil
	}
	return []string{snake(m.Name)}
}
