package models

import (
	"sync"
	"sync/atomic"
	"unsafe"
)

// extras holds headers a session saw in older events: values copied into one
// block (so no event buffer stays pinned), names as ids of the process-wide
// name table (or inline in the block when the table is full), indexed by
// offsets. Invariant: extras holds exactly the headers seen on the session
// that its latest event lacks, each with the value from the newest event
// that had it; Lookup reads the latest event, then extras.
//
// The block only grows in place: bytes once written never change (values
// handed out are views of them), new values go after them while there is
// room, and a dropped entry only leaves dead bytes behind. A new block is
// made (the live values, then the new ones, and an eighth to spare) when
// there is no room or when more than a third of it is dead. So FreeSWITCH's
// usual alternation (a full event, then a few without the variables, then a
// full one) costs copying each carried value once, not once per event.
type extras struct {
	mem  []byte // the block; len is what is written
	buf  string // a view of mem[:len(mem)]
	dead int    // bytes of mem no entry uses
	ents []xent
}

// xent is one carried header. If id has inlineName set, the low bits are the
// name's length and the name precedes the value at off; otherwise id is a
// nameTable id and the value is at off. src is the name's id in the events'
// own process-wide table (see idEvent), or noSrc.
type xent struct {
	id, off, vlen uint32
	src           uint16
}

// size is the number of bytes the entry uses in the block.
func (e *xent) size() int {
	if e.id&inlineName != 0 {
		return int(e.vlen + e.id&^inlineName)
	}
	return int(e.vlen)
}

// idEvent is implemented by events whose header names are interned
// process-wide as small ids (*esl.Event): equal ids mean equal names, in any
// two events, except noSrc. Comparing two events' name sets then costs a
// bitmap, not a string comparison per header, and no value is touched.
type idEvent interface {
	AppendNameIDs(dst []uint16) []uint16
	Header(i int) (name, value string)
	Lookup(name string) (string, bool)
}

// noSrc is the id an idEvent gives a name it could not intern (esl's
// InlineNameID): such names are compared as strings.
const noSrc = 0xFFFF

const inlineName = 1 << 31

func (x *extras) at(i int) (name, value string) {
	e := x.ents[i]
	if e.id&inlineName != 0 {
		nlen := e.id &^ inlineName
		return x.buf[e.off : e.off+nlen], x.buf[e.off+nlen : e.off+nlen+e.vlen]
	}
	return nameOf(e.id), x.buf[e.off : e.off+e.vlen]
}

func (x *extras) lookup(name string) (string, bool) {
	if len(x.ents) == 0 {
		return "", false
	}
	tab := *nameTable.list.Load()
	for i := range x.ents {
		e := x.ents[i]
		if e.id&inlineName == 0 {
			if tab[e.id] == name {
				return x.buf[e.off : e.off+e.vlen], true
			}
			continue
		}
		if nlen := e.id &^ inlineName; int(nlen) == len(name) && x.buf[e.off:e.off+nlen] == name {
			return x.buf[e.off+nlen : e.off+nlen+e.vlen], true
		}
	}
	return "", false
}

// nameSet answers "is this a header of event ev?" cheaply. FreeSWITCH writes
// the headers of one channel's events in a stable order, so a cursor over
// ev's names answers most questions in order; a hash table, built only when
// the cursor misses, answers the rest.
type nameSet struct {
	names []string
	add   []string // name, value pairs to carry (scratch)
	vals  []int32  // per extras entry: 1 keep, 0 drop
	ids   []uint32 // name ids of the new entries
	tab   []int32  // open addressing; index+1 into names, 0 empty
	built bool
	vars  bool // names has a channel variable
	scans int  // misses answered by a linear scan
	f     evFields

	fillFn, visitFn func(n, v string) bool

	cur int // cursor of the walk over the previous event

	// For carryIDs: the name ids of the new and the old event, the ids of
	// the headers to carry, and a set of ids: id is in it when
	// mark[id] == gen (a new set is a new gen, nothing to clear).
	nids, oids, pids, srcs []uint16
	miss                   []int32
	mark                   []uint32
	gen                    uint32
}

// hashName is a cheap hash of a header name: its length and four of its
// bytes, mixed. Collisions only cost a probe (names are compared).
func hashName(s string) uint32 {
	n := len(s)
	h := uint32(n) * 0x9E3779B1
	if n >= 3 {
		h ^= uint32(s[n-1]) | uint32(s[n-2])<<8 | uint32(s[n/2])<<16 | uint32(s[n/3])<<24
	} else if n > 0 {
		h ^= uint32(s[0]) | uint32(s[n-1])<<8
	}
	h *= 0x85EBCA6B
	return h ^ h>>15
}

var setPool = sync.Pool{New: func() any { return newNameSet() }}

func newNameSet() *nameSet {
	ns := &nameSet{names: make([]string, 0, 256)}
	// Made once per nameSet, so passing them to Event.Range allocates nothing.
	ns.fillFn = func(n, v string) bool {
		ns.names = append(ns.names, n)
		switch len(n) {
		case len("Event-Date-Timestamp"):
			if n == "Event-Date-Timestamp" {
				ns.f.ts = v
			}
		case len("Call-Direction"):
			if n == "Call-Direction" {
				ns.f.dir, ns.f.hasDir = v, true
			}
		}
		return true
	}
	ns.visitFn = func(n, v string) bool {
		ns.visit(n, v)
		return true
	}
	return ns
}

// fill collects ev's header names (and the fields apply reads).
func (ns *nameSet) fill(ev Event) {
	ns.names = ns.names[:0]
	ns.built = false
	ns.scans = 0
	ns.f = evFields{}
	ev.Range(ns.fillFn)
	ns.vars = false
	for _, n := range ns.names {
		if len(n) > len(varPrefix) && n[0] == 'v' && n[:len(varPrefix)] == varPrefix {
			ns.vars = true
			break
		}
	}
}

// varPrefix starts the names of channel variables. FreeSWITCH sends them all
// or none (CHANNEL_STATE, CHANNEL_CALLSTATE, DTMF... carry none unless
// verbose_events is on), so "the new event has no variables" answers most
// questions about a big previous event at once.
const varPrefix = "variable_"

// maxScans is how many misses has answers by a linear scan before it builds
// the hash table.
const maxScans = 2

func (ns *nameSet) build() {
	size := 64
	for size < 2*len(ns.names) {
		size *= 2
	}
	if cap(ns.tab) < size {
		ns.tab = make([]int32, size)
	} else {
		ns.tab = ns.tab[:size]
		clear(ns.tab)
	}
	mask := uint32(size - 1)
	for i, n := range ns.names {
		h := hashName(n) & mask
		for ns.tab[h] != 0 {
			h = (h + 1) & mask
		}
		ns.tab[h] = int32(i + 1)
	}
	ns.built = true
}

// has reports whether name is in the set; *cur is the cursor of one
// in-order walk.
func (ns *nameSet) has(name string, cur *int) bool {
	c := *cur
	if c < len(ns.names) && ns.names[c] == name {
		*cur = c + 1
		return true
	}
	if !ns.vars && len(name) > len(varPrefix) && name[0] == 'v' && name[:len(varPrefix)] == varPrefix {
		return false
	}
	if !ns.built {
		if ns.scans < maxScans {
			ns.scans++
			for i, n := range ns.names {
				if n == name {
					*cur = i + 1
					return true
				}
			}
			return false
		}
		ns.build()
	}
	mask := uint32(len(ns.tab) - 1)
	h := hashName(name) & mask
	for {
		v := ns.tab[h]
		if v == 0 {
			return false
		}
		if ns.names[v-1] == name {
			*cur = int(v)
			return true
		}
		h = (h + 1) & mask
	}
}

func (ns *nameSet) release() {
	ns.f = evFields{}
	clear(ns.names) // do not pin the events from the pool
	clear(ns.add)
	ns.names, ns.add = ns.names[:0], ns.add[:0]
	ns.vals, ns.ids = ns.vals[:0], ns.ids[:0]
	ns.nids, ns.oids, ns.pids, ns.srcs = ns.nids[:0], ns.oids[:0], ns.pids[:0], ns.srcs[:0]
	ns.miss = ns.miss[:0]
	setPool.Put(ns)
}

// visit notes a header (n, v) of the previous event: if the new event lacks
// it, it goes to extras.
func (ns *nameSet) visit(n, v string) {
	if !ns.has(n, &ns.cur) {
		ns.add = append(ns.add, n, v)
	}
}

// carry updates extras for the step from event old to the event ns was
// filled with (ev): entries
// whose header ev carries are dropped (ev shadows them), and the headers of
// old that ev lacks are added (by the invariant they are not in extras yet).
// Nothing is allocated when nothing changes, e.g. between two events of one
// channel with the same headers.
func (s *Session) carry(ns *nameSet, old Event) {
	x := &s.extras
	tab := *nameTable.list.Load()

	// Which entries does ev shadow?
	keep := ns.vals[:0] // 1 keep, 0 drop
	kept, cur := 0, 0
	for i := range x.ents {
		e := x.ents[i]
		var n string
		if e.id&inlineName == 0 {
			n = tab[e.id]
		} else {
			n = x.buf[e.off : e.off+e.id&^inlineName]
		}
		if ns.has(n, &cur) {
			keep = append(keep, 0)
		} else {
			keep = append(keep, 1)
			kept++
		}
	}
	ns.vals = keep
	// Which headers of old does ev lack?
	ns.cur = 0
	if old != nil {
		old.Range(ns.visitFn)
	}
	ns.srcs, ns.ids = ns.srcs[:0], ns.ids[:0]
	for i := 0; i < len(ns.add); i += 2 {
		ns.srcs = append(ns.srcs, noSrc)
		ns.ids = append(ns.ids, ourID(ns.add[i]))
	}
	s.rebuild(ns, kept)
}

// keepWhole is how many headers of the latest event the next one must lack
// for the session to keep that event whole (as prev) rather than copy them.
// FreeSWITCH alternates events with a channel's ~100 variables and events
// without them (CHANNEL_STATE, CALLSTATE...): keeping the last full event
// costs no copy and keeps about what the copies would (its compact form
// spends 4 bytes a header on its index, extras 16).
const keepWhole = 16

// carryIDs is carry for two idEvents, with prev: the new event's name ids go
// into a set (a stamp array: a new set is a new stamp), and
//   - extras entries the new event has are dropped (it shadows them);
//   - when the new event has every header of the old one (in order, the
//     common case), the old one has nothing left to give; prev stays while
//     it still holds headers nothing newer has, and goes (copying what
//     little it still holds) otherwise;
//   - when the new event lacks many headers of the old one (a full event
//     followed by one without variables), the old event becomes prev, whole,
//     and what the former prev still held that nothing newer has is copied;
//   - when it lacks a few, those are copied and prev stays.
//
// It reports false (nothing done) when an event has a name without an id or
// prev is not an idEvent: Update then folds prev into extras and carries by
// name.
//
// Invariants (Lookup reads latest, then extras, then prev): extras holds no
// header latest has; an extras value is newer than prev's for that name.
func (s *Session) carryIDs(ns *nameSet, ev, old idEvent) bool {
	ns.nids = ev.AppendNameIDs(ns.nids[:0])
	ns.oids = old.AppendNameIDs(ns.oids[:0])
	x := &s.extras
	if len(x.ents) == 0 && s.prev == nil && subsequence(ns.oids, ns.nids) {
		return true
	}
	var prev idEvent
	ns.pids = ns.pids[:0]
	if s.prev != nil {
		pe, ok := s.prev.(idEvent)
		if !ok {
			return false
		}
		prev = pe
		ns.pids = prev.AppendNameIDs(ns.pids)
	}
	top := uint16(0)
	for _, id := range ns.nids {
		if id == noSrc {
			return false
		}
		top = max(top, id)
	}
	for _, list := range [][]uint16{ns.oids, ns.pids} {
		for _, id := range list {
			if id != noSrc {
				top = max(top, id)
			}
		}
	}
	for _, e := range x.ents {
		if e.src != noSrc {
			top = max(top, e.src)
		}
	}
	if len(ns.mark) <= int(top) {
		ns.mark = make([]uint32, int(top)+1+int(top)/4)
		ns.gen = 0
	}
	if ns.gen++; ns.gen == 0 || ns.gen == ^uint32(0) { // gen+1 is used too
		clear(ns.mark)
		ns.gen = 1
	}
	mark, gen := ns.mark, ns.gen
	for _, id := range ns.nids {
		mark[id] = gen
	}
	has := func(id uint16) bool { return mark[id] == gen }

	// Extras entries the new event shadows are dropped.
	keep := ns.vals[:0] // 1 keep, 0 drop
	kept := 0
	for i := range x.ents {
		var shadowed bool
		if src := x.ents[i].src; src != noSrc {
			shadowed = has(src)
		} else {
			n, _ := x.at(i)
			_, shadowed = ev.Lookup(n)
		}
		if shadowed {
			keep = append(keep, 0)
		} else {
			keep = append(keep, 1)
			kept++
		}
	}
	ns.vals = keep

	// The headers of old that ev lacks (the first of each name), as
	// indexes into old.
	miss := ns.miss[:0]
	for i, id := range ns.oids {
		if id == noSrc {
			n, _ := old.Header(i)
			if _, ok := ev.Lookup(n); !ok && !ns.listed(old, miss, n) {
				miss = append(miss, int32(i))
			}
			continue
		}
		if has(id) {
			continue
		}
		mark[id] = gen // later duplicates are not missing again
		miss = append(miss, int32(i))
	}
	ns.miss = miss
	add, srcs, ids := ns.add[:0], ns.srcs[:0], ns.ids[:0]
	carry := func(e idEvent, i int, id uint16) {
		n, v := e.Header(i)
		add, srcs = append(add, n, v), append(srcs, id)
		if id == noSrc {
			ids = append(ids, ourID(n))
		} else {
			ids = append(ids, srcID(id, n))
		}
	}
	switch {
	case len(miss) >= keepWhole:
		// old becomes prev, whole. What the former prev holds that
		// neither ev, old nor the kept extras have is copied.
		if prev != nil {
			s.prevLeft(ns, ev, old, prev, carry)
		}
		s.prev = s.latest // old, as an Event
	default:
		for _, i := range miss {
			carry(old, int(i), ns.oids[i])
		}
		if prev != nil && len(miss) == 0 {
			// Nothing newer than prev lacks anything ev has: does prev
			// still hold enough to keep?
			if s.prevLeft(ns, ev, old, prev, nil) < keepWhole {
				s.prevLeft(ns, ev, old, prev, carry)
				s.prev = nil
			}
		}
	}
	ns.add, ns.srcs, ns.ids = add, srcs, ids
	s.rebuild(ns, kept)
	return true
}

// prevLeft counts the headers of prev (the first of each name) that
// neither ev, old nor the kept extras have, and passes each to carry if it
// is not nil. The name set then holds ev's, old's and the kept extras' ids
// and is spent (the next use starts a new stamp).
func (s *Session) prevLeft(ns *nameSet, ev, old, prev idEvent, carry func(e idEvent, i int, id uint16)) int {
	mark, gen := ns.mark, ns.gen
	for _, id := range ns.oids {
		if id != noSrc {
			mark[id] = gen
		}
	}
	x := &s.extras
	for i := range x.ents {
		if src := x.ents[i].src; src != noSrc && ns.vals[i] == 1 {
			mark[src] = gen
		}
	}
	// A second stamp (gen+1, never 0: see carryIDs) marks prev's own names
	// as they are counted, so a duplicate counts once; they are unmarked
	// after, so the count can be repeated.
	n := 0
	for i, id := range ns.pids {
		if id == noSrc {
			name, _ := prev.Header(i)
			if _, ok := ev.Lookup(name); ok {
				continue
			}
			if _, ok := old.Lookup(name); ok {
				continue
			}
			if _, ok := x.lookupKept(name, ns.vals); ok || ns.listedPrev(prev, i, name) {
				continue
			}
		} else {
			if mark[id] == gen || mark[id] == gen+1 {
				continue
			}
			mark[id] = gen + 1
		}
		n++
		if carry != nil {
			carry(prev, i, id)
		}
	}
	for _, id := range ns.pids {
		if id != noSrc && mark[id] == gen+1 {
			mark[id] = 0 // as before: not in the set
		}
	}
	return n
}

// foldPrev copies into extras the headers of prev that neither latest nor
// extras have (the first of each name) and drops prev, for Update's path by
// name.
func (s *Session) foldPrev(ns *nameSet) {
	p := s.prev
	if p == nil {
		return
	}
	s.prev = nil
	x := &s.extras
	keep := ns.vals[:0]
	for range x.ents {
		keep = append(keep, 1)
	}
	ns.vals = keep
	add, srcs, ids := ns.add[:0], ns.srcs[:0], ns.ids[:0]
	p.Range(func(n, v string) bool {
		if s.latest != nil {
			if _, ok := s.latest.Lookup(n); ok {
				return true
			}
		}
		if _, ok := x.lookup(n); ok {
			return true
		}
		for i := 0; i < len(add); i += 2 {
			if add[i] == n {
				return true
			}
		}
		add, srcs, ids = append(add, n, v), append(srcs, noSrc), append(ids, ourID(n))
		return true
	})
	ns.add, ns.srcs, ns.ids = add, srcs, ids
	s.rebuild(ns, len(x.ents))
	clear(ns.add)
	ns.add, ns.srcs, ns.ids, ns.vals = ns.add[:0], ns.srcs[:0], ns.ids[:0], ns.vals[:0]
}

// listed reports whether name n is the name of one of the headers of e
// at indexes idx.
func (ns *nameSet) listed(e idEvent, idx []int32, n string) bool {
	for _, i := range idx {
		if m, _ := e.Header(int(i)); m == n {
			return true
		}
	}
	return false
}

// listedPrev reports whether an earlier header of prev than i is named n.
func (ns *nameSet) listedPrev(prev idEvent, i int, n string) bool {
	for j := 0; j < i; j++ {
		if m, _ := prev.Header(j); m == n {
			return true
		}
	}
	return false
}

// lookupKept is lookup among the entries marked kept in keep.
func (x *extras) lookupKept(name string, keep []int32) (string, bool) {
	for i := range x.ents {
		if keep[i] != 1 {
			continue
		}
		if n, v := x.at(i); n == name {
			return v, true
		}
	}
	return "", false
}

// subsequence reports whether the ids of a appear in b in the same order
// (no id unknown).
func subsequence(a, b []uint16) bool {
	j := 0
	for _, id := range a {
		if id == noSrc {
			return false
		}
		for j < len(b) && b[j] != id {
			j++
		}
		if j == len(b) {
			return false
		}
		j++
	}
	return true
}

// srcIDs caches, for an idEvent's name id, 1 + our nameTable id of the name
// (0: not known yet), so carrying a header costs no map lookup. The ids of
// *esl.Event are below 4096 (its table's size); larger ones are not cached.
var srcIDs [4096]atomic.Uint32

// srcID returns the xent id for name n, whose idEvent id is src.
func srcID(src uint16, n string) uint32 {
	if int(src) < len(srcIDs) {
		if v := srcIDs[src].Load(); v != 0 {
			return v - 1
		}
	}
	id, ok := nameID(n)
	if !ok {
		return inlineName | uint32(len(n))
	}
	if int(src) < len(srcIDs) {
		srcIDs[src].Store(id + 1)
	}
	return id
}

// ourID returns the xent id for name n.
func ourID(n string) uint32 {
	id, ok := nameID(n)
	if !ok {
		return inlineName | uint32(len(n))
	}
	return id
}

// rebuild applies what carry decided: the extras entries marked in ns.vals
// are kept, and the headers in ns.add (name, value pairs, with their xent ids
// in ns.ids and their idEvent ids in ns.srcs) are added.
func (s *Session) rebuild(ns *nameSet, kept int) {
	x := &s.extras
	keep, add, ids := ns.vals, ns.add, ns.ids
	if kept == len(x.ents) && len(add) == 0 {
		return // nothing changes
	}
	if kept == 0 && len(add) == 0 {
		*x = extras{}
		return
	}
	if kept < len(x.ents) {
		j := 0
		for i := range x.ents {
			if keep[i] == 1 {
				x.ents[j] = x.ents[i]
				j++
			} else {
				x.dead += x.ents[i].size()
			}
		}
		x.ents = x.ents[:j]
	}
	need := 0
	for k, i := 0, 0; i < len(add); k, i = k+1, i+2 {
		need += len(add[i+1])
		if ids[k]&inlineName != 0 {
			need += len(add[i])
		}
	}
	if live := len(x.mem) - x.dead; x.dead*2 > live || cap(x.mem)-len(x.mem) < need {
		// A new block: the live values, then room for the new ones and an
		// eighth more.
		size := live + need
		mem := make([]byte, 0, size+size/8)
		for i := range x.ents {
			e := &x.ents[i]
			off := len(mem)
			mem = append(mem, x.buf[e.off:int(e.off)+e.size()]...)
			e.off = uint32(off)
		}
		x.mem, x.dead = mem, 0
	}
	if n := len(x.ents) + len(ids); cap(x.ents) < n || cap(x.ents) > 2*n+8 {
		x.ents = append(make([]xent, 0, n), x.ents...) // room for the new ones; no more
	}
	for k, i := 0, 0; i < len(add); k, i = k+1, i+2 {
		n, v := add[i], add[i+1]
		off := uint32(len(x.mem))
		if ids[k]&inlineName != 0 {
			x.mem = append(x.mem, n...)
		}
		x.mem = append(x.mem, v...)
		x.ents = append(x.ents, xent{id: ids[k], off: off, vlen: uint32(len(v)), src: ns.srcs[k]})
	}
	x.buf = unsafe.String(unsafe.SliceData(x.mem), len(x.mem))
}
