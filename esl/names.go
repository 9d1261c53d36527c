package esl

import (
	"encoding/binary"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Header names are interned in one process-wide table: FreeSWITCH uses a few
// hundred distinct names (255 in a 100-call capture) and they are more than
// half of an event's bytes, so an event stores a 2-byte name id instead of
// the name. The table only grows; once it is full, new names are stored in
// the event itself (see inlineID), so correctness never depends on it.

const (
	maxNames   = 4096         // interned names at most
	nameSlots  = 2 * maxNames // open addressing, power of two
	maxNameLen = 255          // longer names are stored inline
	inlineID   = InlineNameID // the name is in the event's text
)

// Well-known names, interned first so their ids are constants.
const (
	idEventName uint16 = iota
	idUniqueID
	idEventSubclass
	idContentLength
	idJobUUID
)

type nameTable struct {
	mu    sync.Mutex
	n     atomic.Int32
	slots [nameSlots]atomic.Uint32 // id+1, 0 = empty
	names [maxNames]string         // written once, before its slot is published
}

var names = func() *nameTable {
	t := new(nameTable)
	for _, n := range []string{"Event-Name", "Unique-ID", "Event-Subclass", "Content-Length", "Job-UUID"} {
		t.intern([]byte(n))
	}
	return t
}()

// nameHash mixes the length and the first and last 8 bytes: header names are
// short and differ at their ends.
func nameHash(b string) uint32 {
	n := len(b)
	var x uint64
	if n >= 8 {
		x = le64(b, 0) ^ le64(b, n-8)*0x9e3779b97f4a7c15
	} else {
		for i := 0; i < n; i++ {
			x |= uint64(b[i]) << (8 * i)
		}
	}
	x ^= uint64(n) * 0xff51afd7ed558ccd
	x *= 0xc4ceb9fe1a85ec53
	return uint32(x >> 32)
}

func le64(b string, i int) uint64 {
	b = b[i : i+8] // one bounds check; the loads combine into one
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

// find returns the id of name, or false.
func find(t *nameTable, name string) (uint16, bool) {
	for i := nameHash(name) & (nameSlots - 1); ; i = (i + 1) & (nameSlots - 1) {
		s := t.slots[i].Load()
		if s == 0 {
			return 0, false
		}
		if n := t.names[s-1]; len(n) == len(name) && n == name {
			return uint16(s - 1), true
		}
	}
}

// intern returns the id of name, adding it if there is room, else inlineID.
func (t *nameTable) intern(name []byte) uint16 {
	return internT(t, unsafe.String(unsafe.SliceData(name), len(name))) // not kept: internT clones
}

// internT is intern for a string.
func internT(t *nameTable, name string) uint16 {
	if id, ok := find(t, name); ok {
		return id
	}
	if len(name) > maxNameLen || t.n.Load() >= maxNames {
		return inlineID
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if id, ok := find(t, name); ok {
		return id
	}
	id := t.n.Load()
	if id >= maxNames {
		return inlineID
	}
	t.names[id] = strings.Clone(name) // never a piece of an event
	i := nameHash(name) & (nameSlots - 1)
	for t.slots[i].Load() != 0 {
		i = (i + 1) & (nameSlots - 1)
	}
	t.slots[i].Store(uint32(id) + 1)
	t.n.Store(id + 1)
	return uint16(id)
}

// putID appends a 2-byte id.
func putID(dst []byte, id uint16) []byte { return binary.LittleEndian.AppendUint16(dst, id) }
