package fssim

import (
	"bytes"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// hdr is one event header, not yet encoded.
type hdr struct{ name, value string }

// callSite is the pre-serialized Event-Calling-File/-Function/-Line-Number
// block of an event, as FreeSWITCH reports where it created the event.
type callSite struct{ block string }

func site(file, fn string, line int) *callSite {
	return &callSite{"Event-Calling-File: " + file + "\nEvent-Calling-Function: " + fn +
		"\nEvent-Calling-Line-Number: " + strconv.Itoa(line) + "\n"}
}

// Where FreeSWITCH 1.11 creates each event (from the captures and its source).
var (
	siteState        = site("switch_channel.c", "switch_channel_perform_set_running_state", 2409)
	siteCallstate    = site("switch_channel.c", "switch_channel_perform_set_callstate", 302)
	siteCreate       = site("switch_core_state_machine.c", "switch_core_session_run", 626)
	siteOriginate    = site("switch_core_state_machine.c", "switch_core_session_run", 632)
	siteExecute      = site("switch_core_session.c", "switch_core_session_exec", 2949)
	siteExecComplete = site("switch_core_session.c", "switch_core_session_exec", 2972)
	sitePark         = site("switch_ivr.c", "switch_ivr_park", 1002)
	siteUnpark       = site("switch_ivr.c", "switch_ivr_park", 1213)
	siteAnswer       = site("switch_channel.c", "switch_channel_perform_mark_answered", 3848)
	siteProgress     = site("switch_channel.c", "switch_channel_perform_mark_ring_ready_value", 3507)
	siteProgressM    = site("switch_channel.c", "switch_channel_perform_mark_pre_answered", 3562)
	siteHangup       = site("switch_channel.c", "switch_channel_perform_hangup", 3447)
	siteHangupDone   = site("switch_core_state_machine.c", "switch_core_session_reporting_state", 943)
	siteDestroy      = site("switch_core_session.c", "switch_core_session_perform_destroy", 1588)
	siteDTMF         = site("switch_channel.c", "switch_channel_dequeue_dtmf", 678)
	sitePlayStart    = site("switch_ivr_play_say.c", "switch_ivr_play_file", 1649)
	sitePlayStop     = site("switch_ivr_play_say.c", "switch_ivr_play_file", 2023)
	siteRecordStart  = site("switch_ivr_async.c", "record_callback", 1482)
	siteRecordStop   = site("switch_ivr_async.c", "send_record_stop_event", 1241)
	siteBridge       = site("switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", 1689)
	siteUnbridge     = site("switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", 1879)
	siteBgJob        = site("mod_event_socket.c", "api_exec", 1580)
	siteHeartbeat    = site("switch_core.c", "send_heartbeat", 95)
)

// ev is one event being fired: where it comes from, its channel and its
// own headers. It lives on the stack of the code that fires it.
type ev struct {
	typ      evType
	subclass string
	site     *callSite
	leg      *leg
	pre      [2]hdr // headers before the channel data (Hangup-Cause, Bridge-*-Unique-ID)
	npre     int
	post     [16]hdr // headers after the channel data (Application, Playback-*, DTMF-*, Job-*)
	npost    int
	body     string
	hasBody  bool
	// raw, if set, is the event's headers in the order a client gave them
	// (sendevent, a message's PRIVATE_COMMAND), with the prep blocks where
	// FreeSWITCH appended them; the channel data (if leg) and the body
	// follow. pre and post are not used then.
	raw []rawHdr
}

// rawHdr is one header of a raw event, or (prep != nil) the block
// switch_event_prep_for_delivery appends: Event-Name (of typ), Core-UUID ..
// Event-Date-Timestamp, the calling site, Event-Sequence.
type rawHdr struct {
	name, value string
	prep        *callSite
	typ         evType
}

// seqs is how many Event-Sequence numbers e takes: one per prep block.
func (e *ev) seqs() uint64 {
	if e.raw == nil {
		return 1
	}
	n := uint64(0)
	for i := range e.raw {
		if e.raw[i].prep != nil {
			n++
		}
	}
	return n
}

func (e *ev) addPre(name, value string) {
	e.pre[e.npre] = hdr{name, value}
	e.npre++
}

func (e *ev) add(name, value string) {
	if e.npost < len(e.post) {
		e.post[e.npost] = hdr{name, value}
		e.npost++
	}
}

// evBuf is one serialized event frame ("Content-Length: N\nContent-Type:
// text/event-plain\n\n" + body), shared by every connection it goes to and
// returned to a pool when the last one has written it. Buffers come in size
// classes so a queued event holds little more memory than its size.
type evBuf struct {
	data  []byte
	class int
	refs  atomic.Int32
}

const (
	minClass   = 10 // 1 KiB
	numClasses = 8  // up to 128 KiB; larger events are not pooled
)

var evPools [numClasses]sync.Pool

// getEvBuf returns a buffer of at least n bytes.
func getEvBuf(n int) *evBuf {
	c := 0
	for n > 1<<(minClass+c) {
		c++
	}
	if c >= numClasses {
		return &evBuf{data: make([]byte, n), class: -1}
	}
	if eb, ok := evPools[c].Get().(*evBuf); ok {
		eb.data = eb.data[:n]
		return eb
	}
	return &evBuf{data: make([]byte, n, 1<<(minClass+c)), class: c}
}

// frameRoom is the space reserved before an event for its frame header.
const frameRoom = 64

func (eb *evBuf) retain() { eb.refs.Add(1) }

func (eb *evBuf) release() {
	if eb.refs.Add(-1) == 0 && eb.class >= 0 {
		evPools[eb.class].Put(eb)
	}
}

// lookup finds header name (case-insensitive, decoded) in the serialized
// event, as FreeSWITCH's switch_event_get_header does for filters.
func (eb *evBuf) lookup(name string) (string, bool) {
	d := eb.data
	// skip the frame header
	if i := bytes.Index(d, []byte("\n\n")); i >= 0 {
		d = d[i+2:]
	}
	for len(d) > 0 {
		nl := bytes.IndexByte(d, '\n')
		if nl <= 0 {
			return "", false
		}
		line := d[:nl]
		d = d[nl+1:]
		c := bytes.IndexByte(line, ':')
		if c > 0 && strings.EqualFold(string(line[:c]), name) {
			v := line[c+1:]
			if len(v) > 0 && v[0] == ' ' {
				v = v[1:]
			}
			return urlDecode(string(v)), true
		}
	}
	return "", false
}

// dateCache holds the Event-Date-Local/-GMT lines of the current second.
type dateCache struct {
	sec   int64
	block string
}

func (d *dateCache) get(sec int64) string {
	if sec != d.sec || d.block == "" {
		t := time.Unix(sec, 0)
		b := make([]byte, 0, 128)
		b = appendHeader(b, "Event-Date-Local", t.Format("2006-01-02 15:04:05"))
		b = appendHeader(b, "Event-Date-GMT", t.UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT"))
		d.sec, d.block = sec, string(b)
	}
	return d.block
}

// fire builds and delivers one event to every listener that wants it. Called
// with s.mu held; it consumes an Event-Sequence number even when nobody
// listens, as FreeSWITCH does.
func (s *Sim) fire(e *ev) {
	seq := s.seq + 1
	s.seq += e.seqs()
	var eb *evBuf
	for _, c := range s.listeners {
		if !c.wants(e) {
			continue
		}
		if eb == nil {
			eb = s.build(e, seq)
		}
		if len(c.filters) > 0 && !c.passes(eb) {
			continue
		}
		s.deliver(c, eb)
	}
	if eb != nil {
		s.stats.eventsBuilt++
		eb.release()
	}
}

// build serializes e as switch_event_serialize does (url-encoded values,
// Content-Length before Content-Type, an inner Content-Length for a body),
// in the simulator's scratch buffer, then copies the frame to a pooled
// buffer of its size.
func (s *Sim) build(e *ev, seq uint64) *evBuf {
	b := s.scratch[:frameRoom]
	now := time.Now()
	if e.raw != nil {
		for _, h := range e.raw {
			if h.prep != nil {
				b = s.appendPrep(b, h.typ, "", h.prep, now, seq)
				seq++
				continue
			}
			b = appendHeader(b, h.name, h.value)
		}
		if e.leg != nil {
			b = e.leg.appendData(b, s.verbose || e.typ.withVariables())
		}
	} else {
		b = s.appendPrep(b, e.typ, e.subclass, e.site, now, seq)
		for i := 0; i < e.npre; i++ {
			b = appendHeader(b, e.pre[i].name, e.pre[i].value)
		}
		if e.leg != nil {
			b = e.leg.appendData(b, s.verbose || e.typ.withVariables())
		}
		for i := 0; i < e.npost; i++ {
			b = appendHeader(b, e.post[i].name, e.post[i].value)
		}
	}
	if e.hasBody && e.body != "" {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, int64(len(e.body)), 10)
		b = append(b, '\n', '\n')
		b = append(b, e.body...)
	} else {
		b = append(b, '\n')
	}
	s.scratch = b
	// the frame header, right-aligned in the reserved room
	var tmp [frameRoom]byte
	h := append(tmp[:0], "Content-Length: "...)
	h = strconv.AppendInt(h, int64(len(b)-frameRoom), 10)
	h = append(h, "\nContent-Type: text/event-plain\n\n"...)
	start := frameRoom - len(h)
	copy(b[start:], h)
	eb := getEvBuf(len(b) - start)
	copy(eb.data, b[start:])
	eb.refs.Store(1)
	return eb
}

// appendPrep appends what switch_event_prep_for_delivery adds (with the
// simulator's Event-Subclass, if any, after Event-Name).
func (s *Sim) appendPrep(b []byte, typ evType, subclass string, site *callSite, now time.Time, seq uint64) []byte {
	b = append(b, "Event-Name: "...)
	b = append(b, eventNames[typ]...)
	b = append(b, '\n')
	if subclass != "" {
		b = appendHeader(b, "Event-Subclass", subclass)
	}
	b = append(b, s.hostBlock...)
	b = append(b, s.dates.get(now.Unix())...)
	b = appendHeaderInt(b, "Event-Date-Timestamp", now.UnixMicro())
	b = append(b, site.block...)
	return appendHeaderInt(b, "Event-Sequence", int64(seq))
}

// deliver queues eb for c, or holds it until the command being executed has
// written its reply (FreeSWITCH sends a command's reply before the events the
// command caused).
func (s *Sim) deliver(c *conn, eb *evBuf) {
	eb.retain()
	if s.deferring {
		s.deferred = append(s.deferred, deferredEv{c, eb})
		return
	}
	c.queueEvent(eb)
}

type deferredEv struct {
	c  *conn
	eb *evBuf
}

// flushDeferred delivers the events held by deliver.
func (s *Sim) flushDeferred() {
	s.deferring = false
	for i, d := range s.deferred {
		d.c.queueEvent(d.eb)
		s.deferred[i] = deferredEv{}
	}
	s.deferred = s.deferred[:0]
}
