package fssim

import (
	"hash/maphash"
	"strings"
)

// varList is a channel's variables in FreeSWITCH's order. Each entry is the
// serialized line "variable_<name>: <url-encoded value>\n", so an event copies
// lines instead of encoding values. Setting a variable deletes it and appends
// it at the end, as switch_channel_set_variable does (that is why the order
// of variable_* headers moves during a call in the captures). A deleted
// entry is left empty (a tombstone, which serializes to nothing) and the
// list is compacted when they pile up.
type varList struct {
	lines []string
	dead  int
	// seen is a small Bloom filter of the names present: a clear bit means
	// "absent", so appending a new name needs no scan.
	seen uint64
}

const varPrefix = "variable_"

var nameSeed = maphash.MakeSeed()

func nameBit(name string) uint64 { return 1 << (maphash.String(nameSeed, name) & 63) }

// lineIs reports whether line is the line of variable name.
func lineIs(line, name string) bool {
	return len(line) > len(varPrefix)+len(name)+1 && line[len(varPrefix)+len(name)] == ':' &&
		line[len(varPrefix):len(varPrefix)+len(name)] == name
}

// lineName returns the variable name of a line.
func lineName(line string) string {
	return line[len(varPrefix) : len(varPrefix)+strings.IndexByte(line[len(varPrefix):], ':')]
}

func (v *varList) index(name string, bit uint64) int {
	if v.seen&bit == 0 {
		return -1
	}
	for i := len(v.lines) - 1; i >= 0; i-- {
		if lineIs(v.lines[i], name) {
			return i
		}
	}
	return -1
}

// remove leaves a tombstone at i.
func (v *varList) remove(i int) {
	v.lines[i] = ""
	v.dead++
}

// compact drops the tombstones once they are many.
func (v *varList) compact() {
	if v.dead < 32 || v.dead*4 < len(v.lines) {
		return
	}
	out := v.lines[:0]
	for _, l := range v.lines {
		if l != "" {
			out = append(out, l)
		}
	}
	clear(v.lines[len(out):])
	v.lines = out
	v.dead = 0
}

// setLine sets variable name to an already serialized line (moving it to the
// end). An empty line deletes the variable.
func (v *varList) setLine(name string, bit uint64, line string) {
	if i := v.index(name, bit); i >= 0 {
		v.remove(i)
	}
	if line != "" {
		v.lines = append(v.lines, line)
		v.seen |= bit
	}
	v.compact()
}

// set sets name=value (delete and append); an empty value deletes.
func (v *varList) set(name, value string) {
	v.setLine(name, nameBit(name), varLine(name, value))
}

// touch moves an existing variable to the end without changing it, as
// re-setting it to the same value does.
func (v *varList) touch(name string, bit uint64) {
	if i := v.index(name, bit); i >= 0 && i != len(v.lines)-1 {
		line := v.lines[i]
		v.remove(i)
		v.lines = append(v.lines, line)
		v.compact()
	}
}

// get returns the decoded value of name.
func (v *varList) get(name string) (string, bool) {
	i := v.index(name, nameBit(name))
	if i < 0 {
		return "", false
	}
	line := v.lines[i]
	return urlDecode(line[len(varPrefix)+len(name)+2 : len(line)-1]), true
}

// varLine serializes one variable ("" for an empty value).
func varLine(name, value string) string {
	if value == "" {
		return ""
	}
	b := make([]byte, 0, len(varPrefix)+len(name)+len(value)+4)
	return string(appendHeader(append(b, varPrefix...), name, value))
}

// staticVar is a variable whose value is the same on every channel: its line
// is serialized once.
type staticVar struct {
	name string
	bit  uint64
	line string
}

func sv(name, value string) staticVar {
	return staticVar{name: name, bit: nameBit(name), line: varLine(name, value)}
}

// varName is a variable name with its Bloom bit precomputed.
type varName struct {
	name string
	bit  uint64
}

func vn(name string) varName { return varName{name, nameBit(name)} }

// lineBatch builds the lines of several variables into one string, so a
// step of a call (creation, answer, the CDR at hangup) allocates once rather
// than once per variable. Items are applied in order by commit.
type lineBatch struct {
	buf   []byte
	items []batchItem
}

type batchItem struct {
	name       varName
	start, end int    // a built line: buf[start:end]; start < 0: see static/touch
	static     string // a pre-serialized line ("" deletes)
	touch      bool
}

func (b *lineBatch) reset() {
	b.buf = b.buf[:0]
	b.items = b.items[:0]
}

// set adds name=value (an empty value deletes).
func (b *lineBatch) set(n varName, value string) {
	if value == "" {
		b.items = append(b.items, batchItem{name: n, start: -1})
		return
	}
	start := len(b.buf)
	b.buf = appendHeader(append(b.buf, varPrefix...), n.name, value)
	b.items = append(b.items, batchItem{name: n, start: start, end: len(b.buf)})
}

// setInt adds name=n.
func (b *lineBatch) setInt(n varName, v int64) {
	start := len(b.buf)
	b.buf = appendHeaderInt(append(b.buf, varPrefix...), n.name, v)
	b.items = append(b.items, batchItem{name: n, start: start, end: len(b.buf)})
}

func (b *lineBatch) setStatic(n varName, line string) {
	b.items = append(b.items, batchItem{name: n, start: -1, static: line})
}

func (b *lineBatch) touch(n varName) {
	b.items = append(b.items, batchItem{name: n, start: -1, touch: true})
}

// commit applies the batch to l. A big batch finds the variables it
// replaces through a name index built once, instead of a scan each.
func (b *lineBatch) commit(l *leg) {
	s := string(b.buf)
	if len(b.items) >= 16 {
		b.commitIndexed(l, s)
		return
	}
	for _, it := range b.items {
		switch {
		case it.touch:
			l.vars.touch(it.name.name, it.name.bit)
		case it.start >= 0:
			l.vars.setLine(it.name.name, it.name.bit, s[it.start:it.end])
		default:
			l.vars.setLine(it.name.name, it.name.bit, it.static)
		}
		l.syncVar(it.name.name)
	}
	b.reset()
}

type lineKey struct{ name, value string }

// line returns the serialized line of name=value from a bounded cache: for
// variables whose values repeat (application names, loop counters).
func (s *Sim) line(n varName, value string) string {
	if l, ok := s.lines[lineKey{n.name, value}]; ok {
		return l
	}
	l := varLine(n.name, value)
	if len(s.lines) < 4096 && len(value) <= 64 {
		s.lines[lineKey{n.name, value}] = l
	}
	return l
}

func (b *lineBatch) commitIndexed(l *leg, s string) {
	v := &l.vars
	idx := l.s.varIndex
	clear(idx)
	for i, line := range v.lines {
		if line != "" {
			idx[lineName(line)] = i
		}
	}
	for _, it := range b.items {
		line := it.static
		if it.start >= 0 {
			line = s[it.start:it.end]
		}
		i, ok := idx[it.name.name]
		if it.touch {
			if !ok {
				continue
			}
			line = v.lines[i]
		}
		if ok {
			v.remove(i)
			delete(idx, it.name.name)
		}
		if line != "" {
			v.lines = append(v.lines, line)
			v.seen |= it.name.bit
			idx[it.name.name] = len(v.lines) - 1
		}
		l.syncVar(it.name.name)
	}
	v.compact()
	b.reset()
}
