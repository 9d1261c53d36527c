package models

import (
	"strings"
	"sync"
	"sync/atomic"
)

// maxNames bounds the process-wide table of header and event names. Past it,
// header names are stored inline in each session (correct, only bigger).
var maxNames = 1 << 16

// nameTable interns header and event names process-wide as small ids, so a
// session stores a 4-byte id instead of its own copy of
// "variable_sip_h_X-switchlua_originating_session". FreeSWITCH uses a bounded
// vocabulary of names, so the table stays small; it never shrinks.
//
// Readers use an immutable snapshot of the name->id map without locking; a
// name not in the snapshot is looked up, and added, under mu, and the
// snapshot is republished (at once while the table is small, then every so
// often, so that building it stays linear overall).
var nameTable struct {
	mu   sync.Mutex
	all  map[string]uint32                 // every name; under mu
	ids  atomic.Pointer[map[string]uint32] // snapshot for readers
	list atomic.Pointer[[]string]          // id -> name; append-only
}

func init() {
	l := make([]string, 1, 1024) // id 0 is unused
	nameTable.list.Store(&l)
	nameTable.all = make(map[string]uint32, 1024)
	snap := map[string]uint32{}
	nameTable.ids.Store(&snap)
}

// nameID returns the id of name, adding it if there is room; ok is false
// when the table is full.
func nameID(name string) (id uint32, ok bool) { return lookupID(name, false) }

// eventID is nameID for event names (Event-Name is a small fixed set in
// FreeSWITCH; CUSTOM events are all "CUSTOM"), which always get an id.
func eventID(name string) uint32 {
	id, _ := lookupID(name, true)
	return id
}

func lookupID(name string, force bool) (id uint32, ok bool) {
	if id, ok := (*nameTable.ids.Load())[name]; ok {
		return id, true
	}
	nameTable.mu.Lock()
	defer nameTable.mu.Unlock()
	if id, ok := nameTable.all[name]; ok {
		return id, true
	}
	l := *nameTable.list.Load()
	if len(l) >= maxNames && !force {
		return 0, false
	}
	c := strings.Clone(name)
	l = append(l, c) // readers never index past their own length
	nameTable.list.Store(&l)
	id = uint32(len(l) - 1)
	nameTable.all[c] = id
	snap := *nameTable.ids.Load()
	if n := len(nameTable.all); n <= 4096 || n-len(snap) >= n/16 {
		m := make(map[string]uint32, n)
		for k, v := range nameTable.all {
			m[k] = v
		}
		nameTable.ids.Store(&m)
	}
	return id, true
}

// nameOf returns the name of an id from nameID.
func nameOf(id uint32) string { return (*nameTable.list.Load())[id] }
