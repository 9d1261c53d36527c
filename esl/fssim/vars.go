package fssim

import (
	"hash/maphash"
	"strings"
)

// varList is a channel's variables in FreeSWITCH's order. Each entry is the
// serialized line "variable_<name>: <url-encoded value>\n", so an event copies
// lines instead of encoding values. Setting a variable deletes it and appends
// it at the end, as switch_channel_set_variable does (that is why the order
// of variable_* headers moves during a call in the captures).
type varList struct {
	lines []string
	// seen is a small Bloom filter of the names present: a clear bit means
	// "absent", so appending a new name needs no scan.
	seen uint64
}

const varPrefix = "variable_"

var nameSeed = maphash.MakeSeed()

func nameBit(name string) uint64 { return 1 << (maphash.String(nameSeed, name) & 63) }

// lineName reports whether line is the line of variable name.
func lineIs(line, name string) bool {
	return len(line) > len(varPrefix)+len(name)+1 && line[len(varPrefix)+len(name)] == ':' &&
		line[len(varPrefix):len(varPrefix)+len(name)] == name
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

func (v *varList) remove(i int) {
	copy(v.lines[i:], v.lines[i+1:])
	v.lines[len(v.lines)-1] = ""
	v.lines = v.lines[:len(v.lines)-1]
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

// getFold is get with a case-insensitive name (event filters).
func (v *varList) getFold(name string) (string, bool) {
	for i := len(v.lines) - 1; i >= 0; i-- {
		line := v.lines[i]
		n := strings.IndexByte(line, ':')
		if n > len(varPrefix) && strings.EqualFold(line[len(varPrefix):n], name) {
			return urlDecode(line[n+2 : len(line)-1]), true
		}
	}
	return "", false
}

// each calls fn with every name and decoded value in order.
func (v *varList) each(fn func(name, value string)) {
	for _, line := range v.lines {
		n := strings.IndexByte(line, ':')
		fn(line[len(varPrefix):n], urlDecode(line[n+2:len(line)-1]))
	}
}

// varLine serializes one variable ("" for an empty value).
func varLine(name, value string) string {
	if value == "" {
		return ""
	}
	b := make([]byte, 0, len(varPrefix)+len(name)+len(value)+4)
	b = append(b, varPrefix...)
	b = append(b, name...)
	b = append(b, ':', ' ')
	b = appendURLEncoded(b, value)
	b = append(b, '\n')
	return string(b)
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
