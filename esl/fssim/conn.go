package fssim

import (
	"bufio"
	"errors"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	goodbye      = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
	lostEvents   = "killed listener because of lost events\n"
	shuttingDown = "The system is being shut down.\n"
	maxMissed    = 500     // FreeSWITCH's MAX_MISSED
	maxFrame     = 1 << 24 // command header block and body limit
)

// command is one ESL command frame: its first line and its headers.
type command struct {
	line string
	hdrs []hdr
	body string
}

// get returns header name (case-insensitive), as FreeSWITCH's event headers are.
func (c *command) get(name string) string {
	for _, h := range c.hdrs {
		if strings.EqualFold(h.name, name) {
			return h.value
		}
	}
	return ""
}

type outItem struct {
	b  []byte
	eb *evBuf
}

// filter is one `filter <header> <value>` of a connection.
type filter struct {
	header, value string
	re            *regexp.Regexp
}

// conn is one ESL connection (a listener in mod_event_socket's words).
type conn struct {
	s  *Sim
	nc net.Conn
	br *bufio.Reader

	qmu     sync.Mutex
	q       []outItem
	qEvents int
	// holding: events wait in held (a blocking api runs, see holdEvents)
	holding bool
	held    []outItem
	wake    chan struct{}
	closing bool // write what is queued, then close
	dead    bool // write nothing more
	done    chan struct{}

	// guarded by s.mu
	authed   bool
	eventsOn bool
	mask     [numEvTypes]bool
	custom   map[string]bool
	filters  []filter
	myUUID   string
	logOn    bool
	lost     int
	sent     int
	gone     bool // removed from the simulator
}

func newConn(s *Sim, nc net.Conn) *conn {
	return &conn{s: s, nc: nc, br: bufio.NewReaderSize(nc, 16<<10), wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// queue appends raw bytes (a reply) to the output.
func (c *conn) queue(b []byte) {
	c.qmu.Lock()
	if !c.dead && !c.closing {
		c.q = append(c.q, outItem{b: b})
	}
	c.qmu.Unlock()
	c.signal()
}

func (c *conn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// queueEvent appends an event (its reference is passed to the queue). Called
// with s.mu held. A queue over MaxQueuedEvents loses the event; more than 500
// lost kills the connection, as FreeSWITCH does.
func (c *conn) queueEvent(eb *evBuf) {
	s := c.s
	c.qmu.Lock()
	if c.dead || c.closing {
		c.qmu.Unlock()
		eb.release()
		return
	}
	if c.qEvents+len(c.held) >= s.cfg.MaxQueuedEvents {
		c.qmu.Unlock()
		eb.release()
		c.lost++
		s.stats.eventsLost++
		if c.lost > maxMissed {
			s.log.Warn("fssim: killing listener because of too many lost events", "remote", c.nc.RemoteAddr())
			c.kill(lostEvents)
		}
		return
	}
	if c.holding {
		c.held = append(c.held, outItem{eb: eb})
	} else {
		c.q = append(c.q, outItem{eb: eb})
		c.qEvents++
	}
	c.qmu.Unlock()
	c.lost = 0
	c.signal()
	c.sent++
	s.stats.eventsQueued++
	if s.dropAfter > 0 && c.sent >= s.dropAfter {
		// write what is queued, then close without a notice
		c.qmu.Lock()
		c.closing = true
		c.qmu.Unlock()
		c.signal() // the writer may have emptied the queue meanwhile
	}
}

// holdEvents starts holding c's events (on) or queues the held ones after
// what is queued (off). Called with s.mu held.
func (c *conn) holdEvents(on bool) {
	c.qmu.Lock()
	c.holding = on
	if !on && len(c.held) > 0 {
		if !c.dead && !c.closing {
			c.q = append(c.q, c.held...)
			c.qEvents += len(c.held)
		} else {
			releaseItems(c.held)
		}
		clear(c.held)
		c.held = c.held[:0]
	}
	c.qmu.Unlock()
	c.signal()
}

// releaseItems releases the event buffers of items.
func releaseItems(items []outItem) {
	for _, it := range items {
		if it.eb != nil {
			it.eb.release()
		}
	}
}

// reply queues a command/reply with Reply-Text text.
func (c *conn) reply(text string) {
	b := make([]byte, 0, len(text)+48)
	b = append(b, "Content-Type: command/reply\nReply-Text: "...)
	b = append(b, text...)
	b = append(b, "\n\n"...)
	c.queue(b)
}

// apiResponse queues an api/response with body text ("-ERR no reply\n" if empty).
func (c *conn) apiResponse(text string) {
	if text == "" {
		text = "-ERR no reply\n"
	}
	b := make([]byte, 0, len(text)+64)
	b = append(b, "Content-Type: api/response\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(text)), 10)
	b = append(b, "\n\n"...)
	b = append(b, text...)
	c.queue(b)
}

func disconnectNotice(msg string) []byte {
	return []byte("Content-Type: text/disconnect-notice\nContent-Length: " + strconv.Itoa(len(msg)) + "\n\n" + msg)
}

// finish queues the disconnect notice and closes once everything is written.
func (c *conn) finish(msg string) {
	c.qmu.Lock()
	if !c.dead && !c.closing {
		c.q = append(c.q, outItem{b: disconnectNotice(msg)})
		c.closing = true
	}
	c.qmu.Unlock()
	c.signal()
}

// kill discards what is queued, sends msg as a disconnect notice and closes
// (FreeSWITCH's kill_listener writes the notice straight to the socket).
func (c *conn) kill(msg string) {
	c.qmu.Lock()
	if c.dead || c.closing {
		c.qmu.Unlock()
		return
	}
	releaseItems(c.q)
	releaseItems(c.held)
	c.held = nil
	c.q = append(c.q[:0], outItem{b: disconnectNotice(msg)})
	c.qEvents = 0
	c.closing = true
	c.qmu.Unlock()
	// a writer blocked on a slow peer gives up soon
	_ = c.nc.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
	c.signal()
}

// drop closes the connection at once, without notice (a network failure).
func (c *conn) drop() {
	c.qmu.Lock()
	c.dead = true
	c.qmu.Unlock()
	c.signal()
	_ = c.nc.Close()
}

// writeLoop writes the queue in batches (one writev per batch).
func (c *conn) writeLoop() {
	defer close(c.done)
	var items []outItem
	var bufs net.Buffers
	for {
		c.qmu.Lock()
		for len(c.q) == 0 && !c.dead && !c.closing {
			c.qmu.Unlock()
			<-c.wake
			c.qmu.Lock()
		}
		if c.dead || len(c.q) == 0 {
			closing := c.closing
			c.dead = true
			releaseItems(c.q)
			releaseItems(c.held)
			c.q, c.held = nil, nil
			c.qmu.Unlock()
			if closing {
				if tc, ok := c.nc.(*net.TCPConn); ok {
					_ = tc.CloseWrite()
				}
			}
			_ = c.nc.Close()
			return
		}
		items, c.q = c.q, items[:0]
		c.qEvents = 0
		c.qmu.Unlock()

		bufs = bufs[:0]
		for _, it := range items {
			if it.eb != nil {
				bufs = append(bufs, it.eb.data)
			} else {
				bufs = append(bufs, it.b)
			}
		}
		w := bufs
		_, err := w.WriteTo(c.nc)
		for i, it := range items {
			if it.eb != nil {
				it.eb.release()
			}
			items[i] = outItem{}
		}
		if err != nil {
			c.qmu.Lock()
			c.dead = true
			c.qmu.Unlock()
		}
	}
}

var errFrame = errors.New("fssim: command frame too large")

// readCommand reads one command frame as mod_event_socket's read_packet does:
// leading blank lines are skipped, CR is ignored, a blank line ends the
// headers, and a Content-Length header is followed by that many body bytes.
func (c *conn) readCommand() (*command, error) {
	cmd := &command{}
	total := 0
	first := true
	for {
		line, err := c.br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// a very long line: collect it
			buf := append([]byte(nil), line...)
			for err == bufio.ErrBufferFull {
				line, err = c.br.ReadSlice('\n')
				buf = append(buf, line...)
				if len(buf) > maxFrame {
					return nil, errFrame
				}
			}
			line = buf
		}
		if err != nil {
			return nil, err
		}
		total += len(line)
		if total > maxFrame {
			return nil, errFrame
		}
		s := strings.TrimRight(string(line), "\r\n")
		if s == "" {
			if first {
				continue
			}
			break
		}
		if first {
			cmd.line = s
			first = false
			continue
		}
		name, value, ok := strings.Cut(s, ":")
		if !ok {
			continue
		}
		value = strings.TrimLeft(value, " ")
		cmd.hdrs = append(cmd.hdrs, hdr{name, value})
	}
	if cl := cmd.get("Content-Length"); cl != "" {
		n, err := strconv.Atoi(strings.TrimSpace(cl))
		if err != nil || n < 0 || n > maxFrame {
			return nil, errFrame
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(c.br, body); err != nil {
			return nil, err
		}
		cmd.body = string(body)
	}
	return cmd, nil
}

// serve runs the connection until it ends.
func (c *conn) serve() {
	s := c.s
	go c.writeLoop()
	c.queue([]byte("Content-Type: auth/request\n\n"))
	for {
		cmd, err := c.readCommand()
		if err != nil {
			break
		}
		if !s.handle(c, cmd) {
			break
		}
	}
	s.removeConn(c)
	c.qmu.Lock()
	closing := c.closing
	if !closing {
		c.dead = true
	}
	c.qmu.Unlock()
	c.signal()
	if closing {
		// the goodbye is written unless the peer stops reading
		_ = c.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	} else {
		_ = c.nc.Close()
	}
	<-c.done
}

// wants reports whether c is subscribed to e (event_handler's first test).
func (c *conn) wants(e *ev) bool {
	if !c.eventsOn {
		return false
	}
	if c.myUUID != "" && (e.leg == nil || e.leg.uuid != c.myUUID) {
		return false
	}
	if c.mask[evAll] {
		return true
	}
	if !c.mask[e.typ] {
		return false
	}
	if e.typ == evCustom && e.subclass != "" {
		return c.custom[e.subclass]
	}
	return true
}

// passes applies c's filters to a serialized event exactly as
// mod_event_socket's event_handler does: with any filter, an event is sent
// only if a positive filter matches and no negative one after it does.
func (c *conn) passes(eb *evBuf) bool {
	send := false
	for _, f := range c.filters {
		hval, ok := eb.lookup(f.header)
		if !ok {
			continue
		}
		comp := f.value
		pos := true
		i := 0
	sign:
		for ; i < len(comp); i++ {
			switch comp[i] {
			case '+':
				pos = true
			case '-':
				pos = false
			case ' ':
			default:
				break sign
			}
		}
		comp = comp[i:]
		if send && pos {
			continue
		}
		var match bool
		if strings.HasPrefix(f.value, "/") {
			match = f.re != nil && f.re.MatchString(hval)
		} else {
			match = strings.EqualFold(hval, comp)
		}
		if match {
			if !pos {
				return false
			}
			send = true
		}
	}
	return send
}

// compileFilterRegex compiles FreeSWITCH's /regex/flags syntax.
func compileFilterRegex(v string) *regexp.Regexp {
	expr := v[1:]
	j := strings.LastIndexByte(expr, '/')
	if j < 0 {
		return nil
	}
	opts := expr[j+1:]
	expr = expr[:j]
	flags := ""
	if strings.Contains(opts, "i") {
		flags += "i"
	}
	if strings.Contains(opts, "s") {
		flags += "s"
	}
	if flags != "" {
		expr = "(?" + flags + ")" + expr
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil
	}
	return re
}
