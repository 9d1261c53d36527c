package models

import (
	"hash/maphash"
	"strings"
	"sync"
)

// extras holds the headers a session saw in older events that its latest
// event lacks: values copied into one string (so no event buffer stays
// pinned), names as ids of the process-wide name table (or inline in the
// string when the table is full), indexed by offsets. Invariant: no name in extras is a header
// of the latest event, so a name is never in both and Lookup checks the
// latest event first, then extras.
type extras struct {
	buf  string
	ents []xent
}

// xent is one carried header. If id has inlineName set, the low bits are the
// name's length and the name precedes the value at off; otherwise id is a
// nameTable id and the value is at off.
type xent struct{ id, off, vlen uint32 }

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
	tab   []int32  // open addressing; index+1 into names, 0 empty
	built bool
}

var seed = maphash.MakeSeed()

var setPool = sync.Pool{New: func() any { return &nameSet{names: make([]string, 0, 256)} }}

// indexed is implemented by events with positional header access (*esl.Event).
type indexed interface {
	Len() int
	Header(i int) (name, value string)
}

func (ns *nameSet) fill(ev Event) {
	ns.names = ns.names[:0]
	ns.built = false
	if ix, ok := ev.(indexed); ok {
		for i, n := 0, ix.Len(); i < n; i++ {
			name, _ := ix.Header(i)
			ns.names = append(ns.names, name)
		}
		return
	}
	ev.Range(func(name, _ string) bool {
		ns.names = append(ns.names, name)
		return true
	})
}

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
	mask := uint64(size - 1)
	for i, n := range ns.names {
		h := maphash.String(seed, n) & mask
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
	if c := *cur; c < len(ns.names) && ns.names[c] == name {
		*cur = c + 1
		return true
	}
	if !ns.built {
		ns.build()
	}
	mask := uint64(len(ns.tab) - 1)
	h := maphash.String(seed, name) & mask
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
	clear(ns.names) // do not pin the events from the pool
	clear(ns.add)
	ns.names, ns.add = ns.names[:0], ns.add[:0]
	setPool.Put(ns)
}

// carry updates extras for the step from event old to event ev: extras that
// ev now carries are dropped, headers of old that ev lacks are added. Nothing
// is copied when nothing changes (the common case: two events of one channel
// with the same headers).
func (s *Session) carry(old, ev Event) {
	ns := setPool.Get().(*nameSet)
	ns.fill(ev)
	defer ns.release()
	x := &s.extras

	// Which extras survive (are not shadowed by ev)?
	var keep []bool // nil: all survive
	kept, cur := 0, 0
	for i := range x.ents {
		n, _ := x.at(i)
		if ns.has(n, &cur) {
			if keep == nil {
				keep = make([]bool, len(x.ents))
				for k := 0; k < i; k++ {
					keep[k] = true
				}
			}
			continue
		}
		if keep != nil {
			keep[i] = true
		}
		kept++
	}
	// Which headers of old does ev lack?
	add := ns.add[:0]
	cur = 0
	visit := func(n, v string) {
		if !ns.has(n, &cur) {
			add = append(add, n, v)
		}
	}
	if ix, ok := old.(indexed); ok {
		for i, n := 0, ix.Len(); i < n; i++ {
			visit(ix.Header(i))
		}
	} else {
		old.Range(func(n, v string) bool { visit(n, v); return true })
	}
	ns.add = add
	if keep == nil && len(add) == 0 {
		return // nothing changes
	}
	if kept == 0 && len(add) == 0 {
		*x = extras{}
		return
	}

	// Rebuild one block: surviving extras, then the newly carried headers.
	ents := make([]xent, 0, kept+len(add)/2)
	total := 0
	for i, e := range x.ents {
		if keep == nil || keep[i] {
			total += int(e.vlen)
			if e.id&inlineName != 0 {
				total += int(e.id &^ inlineName)
			}
		}
	}
	for i := 0; i < len(add); i += 2 {
		total += len(add[i+1])
		if _, ok := nameID(add[i]); !ok {
			total += len(add[i])
		}
	}
	var b strings.Builder
	b.Grow(total)
	for i, e := range x.ents {
		if keep != nil && !keep[i] {
			continue
		}
		off := uint32(b.Len())
		if e.id&inlineName != 0 {
			nlen := e.id &^ inlineName
			b.WriteString(x.buf[e.off : e.off+nlen+e.vlen])
		} else {
			b.WriteString(x.buf[e.off : e.off+e.vlen])
		}
		ents = append(ents, xent{id: e.id, off: off, vlen: e.vlen})
	}
	for i := 0; i < len(add); i += 2 {
		n, v := add[i], add[i+1]
		off := uint32(b.Len())
		id, ok := nameID(n)
		if !ok {
			id = inlineName | uint32(len(n))
			b.WriteString(n)
		}
		b.WriteString(v)
		ents = append(ents, xent{id: id, off: off, vlen: uint32(len(v))})
	}
	*x = extras{buf: b.String(), ents: ents}
}
