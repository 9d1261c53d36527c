package fssim

import "strings"

// evType is FreeSWITCH's switch_event_types_t, in its order.
type evType uint8

// The event types the simulator fires (the others exist so `event plain X`
// accepts every name FreeSWITCH knows).
const (
	evCustom evType = iota
	evClone
	evChannelCreate
	evChannelDestroy
	evChannelState
	evChannelCallstate
	evChannelAnswer
	evChannelHangup
	evChannelHangupComplete
	evChannelExecute
	evChannelExecuteComplete
	evChannelHold
	evChannelUnhold
	evChannelBridge
	evChannelUnbridge
	evChannelProgress
	evChannelProgressMedia
	evChannelOutgoing
	evChannelPark
	evChannelUnpark
	evChannelApplication
	evChannelOriginate
	evChannelUUID
	evAPI
)

// eventNames is FreeSWITCH's EVENT_NAMES table (switch_event.c); the index is
// the evType.
var eventNames = [...]string{
	"CUSTOM", "CLONE", "CHANNEL_CREATE", "CHANNEL_DESTROY", "CHANNEL_STATE", "CHANNEL_CALLSTATE",
	"CHANNEL_ANSWER", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "CHANNEL_EXECUTE",
	"CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HOLD", "CHANNEL_UNHOLD", "CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE",
	"CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA", "CHANNEL_OUTGOING", "CHANNEL_PARK", "CHANNEL_UNPARK",
	"CHANNEL_APPLICATION", "CHANNEL_ORIGINATE", "CHANNEL_UUID", "API", "LOG", "INBOUND_CHAN",
	"OUTBOUND_CHAN", "STARTUP", "SHUTDOWN", "PUBLISH", "UNPUBLISH", "TALK", "NOTALK", "SESSION_CRASH",
	"MODULE_LOAD", "MODULE_UNLOAD", "DTMF", "MESSAGE", "PRESENCE_IN", "NOTIFY_IN", "PRESENCE_OUT",
	"PRESENCE_PROBE", "MESSAGE_WAITING", "MESSAGE_QUERY", "ROSTER", "CODEC", "BACKGROUND_JOB",
	"DETECTED_SPEECH", "DETECTED_TONE", "PRIVATE_COMMAND", "HEARTBEAT", "TRAP", "ADD_SCHEDULE",
	"DEL_SCHEDULE", "EXE_SCHEDULE", "RE_SCHEDULE", "RELOADXML", "NOTIFY", "PHONE_FEATURE",
	"PHONE_FEATURE_SUBSCRIBE", "SEND_MESSAGE", "RECV_MESSAGE", "REQUEST_PARAMS", "CHANNEL_DATA",
	"GENERAL", "COMMAND", "SESSION_HEARTBEAT", "CLIENT_DISCONNECTED", "SERVER_DISCONNECTED",
	"SEND_INFO", "RECV_INFO", "RECV_RTCP_MESSAGE", "SEND_RTCP_MESSAGE", "CALL_SECURE", "NAT",
	"RECORD_START", "RECORD_STOP", "PLAYBACK_START", "PLAYBACK_STOP", "CALL_UPDATE", "FAILURE",
	"SOCKET_DATA", "MEDIA_BUG_START", "MEDIA_BUG_STOP", "CONFERENCE_DATA_QUERY", "CONFERENCE_DATA",
	"CALL_SETUP_REQ", "CALL_SETUP_RESULT", "CALL_DETAIL", "DEVICE_STATE", "TEXT", "SHUTDOWN_REQUESTED",
	"CERT_RELOAD", "ALL",
}

// numEvTypes counts the types including ALL.
const numEvTypes = len(eventNames)

// Event types past evAPI, looked up once.
var (
	evDTMF          = mustEvType("DTMF")
	evBackgroundJob = mustEvType("BACKGROUND_JOB")
	evHeartbeat     = mustEvType("HEARTBEAT")
	evRecordStart   = mustEvType("RECORD_START")
	evRecordStop    = mustEvType("RECORD_STOP")
	evPlaybackStart = mustEvType("PLAYBACK_START")
	evPlaybackStop  = mustEvType("PLAYBACK_STOP")
	evAll           = mustEvType("ALL")
)

func mustEvType(name string) evType {
	t, ok := lookupEvType(name)
	if !ok {
		panic("fssim: unknown event " + name)
	}
	return t
}

// lookupEvType is switch_name_event: a case-insensitive name, optionally with
// a 13-character prefix such as "SWITCH_EVENT_".
func lookupEvType(name string) (evType, bool) {
	for i, n := range eventNames {
		if strings.EqualFold(name, n) || len(name) > 13 && strings.EqualFold(name[13:], n) {
			return evType(i), true
		}
	}
	return 0, false
}

// withVariables reports whether FreeSWITCH's switch_channel_event_set_extended_data
// adds the channel variables to events of this type (without verbose_events).
func (t evType) withVariables() bool {
	switch t {
	case evChannelCreate, evChannelOriginate, evChannelUUID, evChannelAnswer, evChannelPark,
		evChannelUnpark, evChannelBridge, evChannelUnbridge, evChannelProgress, evChannelProgressMedia,
		evChannelHangup, evChannelHangupComplete, evChannelExecute, evChannelExecuteComplete,
		evChannelDestroy, evAPI, evRecordStart, evRecordStop, evPlaybackStart, evPlaybackStop,
		evCustom, evChannelHold, evChannelUnhold:
		return true
	}
	return false
}
