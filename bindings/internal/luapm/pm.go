// Package luapm is gopher-lua's Lua pattern matcher (github.com/yuin/gopher-lua/pm,
// v1.1.1, MIT licence: see LICENSE in this directory) with the changes the
// switchlua sandbox needs:
//
//   - a match can be stopped: the VM counts its steps and every 4096 steps
//     looks at a done channel (the callback's CPU-budget context), so a
//     pattern that backtracks for ever no longer blocks its goroutine;
//   - greedy repetitions (x*, x+) loop instead of recursing once per
//     character, and the recursion depth is capped (MaxDepth), so a long
//     subject cannot overflow the goroutine stack;
//   - matches can be taken one at a time (Matcher), so gmatch does not build
//     every match up front.
//
// The parser, the compiler and the instruction set are unchanged, so a match
// that completes gives exactly pm's results, but for two of pm's departures
// from Lua 5.1 put right: a limit of 0 gives no match (Matcher.All), and
// CompileUnanchored reads a leading '^' as gmatch does.
package luapm

import (
	"errors"
	"fmt"
	"time"
)

// EOS is the scanner's end-of-string position in an Error.
const EOS = -1
const _UNKNOWN = -2

/* Error {{{ */

// Error is a malformed pattern (or a bad back reference) at Pos.
type Error struct {
	Pos     int
	Message string
}

func newError(pos int, message string, args ...interface{}) *Error {
	if len(args) == 0 {
		return &Error{pos, message}
	}
	return &Error{pos, fmt.Sprintf(message, args...)}
}

// Error is the message with its position.
func (e *Error) Error() string {
	switch e.Pos {
	case EOS:
		return fmt.Sprintf("%s at EOS", e.Message)
	case _UNKNOWN:
		return fmt.Sprintf("%s", e.Message)
	default:
		return fmt.Sprintf("%s at %d", e.Message, e.Pos)
	}
}

/* }}} */

/* MatchData {{{ */

// MatchData is one match: the capture positions, 0 and 1 being the whole
// match.
type MatchData struct {
	// captured positions
	// layout
	// xxxx xxxx xxxx xxx0 : caputured positions
	// xxxx xxxx xxxx xxx1 : position captured positions
	captures []uint32
}

func newMatchState() *MatchData { return &MatchData{[]uint32{}} }

func (st *MatchData) addPosCapture(s, pos int) {
	for s+1 >= len(st.captures) {
		st.captures = append(st.captures, 0)
	}
	st.captures[s] = (uint32(pos) << 1) | 1
	st.captures[s+1] = (uint32(pos) << 1) | 1
}

func (st *MatchData) setCapture(s, pos int) uint32 {
	for s >= len(st.captures) {
		st.captures = append(st.captures, 0)
	}
	v := st.captures[s]
	st.captures[s] = (uint32(pos) << 1)
	return v
}

func (st *MatchData) restoreCapture(s int, pos uint32) { st.captures[s] = pos }

// CaptureLength is the number of capture slots (two per capture).
func (st *MatchData) CaptureLength() int { return len(st.captures) }

// IsPosCapture reports whether slot idx is a position capture, ().
func (st *MatchData) IsPosCapture(idx int) bool { return (st.captures[idx] & 1) == 1 }

// Capture is the byte offset in slot idx.
func (st *MatchData) Capture(idx int) int { return int(st.captures[idx] >> 1) }

/* }}} */

/* scanner {{{ */

type scannerState struct {
	Pos     int
	started bool
}

type scanner struct {
	src   []byte
	State scannerState
	saved scannerState
}

func newScanner(src []byte) *scanner {
	return &scanner{
		src: src,
		State: scannerState{
			Pos:     0,
			started: false,
		},
		saved: scannerState{},
	}
}

func (sc *scanner) Length() int { return len(sc.src) }

func (sc *scanner) Next() int {
	if !sc.State.started {
		sc.State.started = true
		if len(sc.src) == 0 {
			sc.State.Pos = EOS
		}
	} else {
		sc.State.Pos = sc.NextPos()
	}
	if sc.State.Pos == EOS {
		return EOS
	}
	return int(sc.src[sc.State.Pos])
}

func (sc *scanner) CurrentPos() int {
	return sc.State.Pos
}

func (sc *scanner) NextPos() int {
	if sc.State.Pos == EOS || sc.State.Pos >= len(sc.src)-1 {
		return EOS
	}
	if !sc.State.started {
		return 0
	} else {
		return sc.State.Pos + 1
	}
}

func (sc *scanner) Peek() int {
	cureof := sc.State.Pos == EOS
	ch := sc.Next()
	if !cureof {
		if sc.State.Pos == EOS {
			sc.State.Pos = len(sc.src) - 1
		} else {
			sc.State.Pos--
			if sc.State.Pos < 0 {
				sc.State.Pos = 0
				sc.State.started = false
			}
		}
	}
	return ch
}

func (sc *scanner) Save() { sc.saved = sc.State }

func (sc *scanner) Restore() { sc.State = sc.saved }

/* }}} */

/* bytecode {{{ */

type opCode int

const (
	opChar opCode = iota
	opMatch
	opTailMatch
	opJmp
	opSplit
	opSave
	opPSave
	opBrace
	opNumber
)

type inst struct {
	OpCode   opCode
	Class    class
	Operand1 int
	Operand2 int
}

/* }}} */

/* classes {{{ */

type class interface {
	Matches(ch int) bool
}

type dotClass struct{}

func (pn *dotClass) Matches(ch int) bool { return true }

type charClass struct {
	Ch int
}

func (pn *charClass) Matches(ch int) bool { return pn.Ch == ch }

type singleClass struct {
	Class int
}

func (pn *singleClass) Matches(ch int) bool {
	ret := false
	switch pn.Class {
	case 'a', 'A':
		ret = 'A' <= ch && ch <= 'Z' || 'a' <= ch && ch <= 'z'
	case 'c', 'C':
		ret = (0x00 <= ch && ch <= 0x1F) || ch == 0x7F
	case 'd', 'D':
		ret = '0' <= ch && ch <= '9'
	case 'l', 'L':
		ret = 'a' <= ch && ch <= 'z'
	case 'p', 'P':
		ret = (0x21 <= ch && ch <= 0x2f) || (0x3a <= ch && ch <= 0x40) || (0x5b <= ch && ch <= 0x60) || (0x7b <= ch && ch <= 0x7e)
	case 's', 'S':
		switch ch {
		case ' ', '\f', '\n', '\r', '\t', '\v':
			ret = true
		}
	case 'u', 'U':
		ret = 'A' <= ch && ch <= 'Z'
	case 'w', 'W':
		ret = '0' <= ch && ch <= '9' || 'A' <= ch && ch <= 'Z' || 'a' <= ch && ch <= 'z'
	case 'x', 'X':
		ret = '0' <= ch && ch <= '9' || 'a' <= ch && ch <= 'f' || 'A' <= ch && ch <= 'F'
	case 'z', 'Z':
		ret = ch == 0
	default:
		return ch == pn.Class
	}
	if 'A' <= pn.Class && pn.Class <= 'Z' {
		return !ret
	}
	return ret
}

type setClass struct {
	IsNot   bool
	Classes []class
}

func (pn *setClass) Matches(ch int) bool {
	for _, class := range pn.Classes {
		if class.Matches(ch) {
			return !pn.IsNot
		}
	}
	return pn.IsNot
}

type rangeClass struct {
	Begin class
	End   class
}

func (pn *rangeClass) Matches(ch int) bool {
	switch begin := pn.Begin.(type) {
	case *charClass:
		end, ok := pn.End.(*charClass)
		if !ok {
			return false
		}
		return begin.Ch <= ch && ch <= end.Ch
	}
	return false
}

// }}}

// patterns {{{

type pattern interface{}

type singlePattern struct {
	Class class
}

type seqPattern struct {
	MustHead bool
	MustTail bool
	Patterns []pattern
}

type repeatPattern struct {
	Type  int
	Class class
}

type posCapPattern struct{}

type capPattern struct {
	Pattern pattern
}

type numberPattern struct {
	N int
}

type bracePattern struct {
	Begin int
	End   int
}

// }}}

/* parse {{{ */

func parseClass(sc *scanner, allowset bool) class {
	ch := sc.Next()
	switch ch {
	case '%':
		return &singleClass{sc.Next()}
	case '.':
		if allowset {
			return &dotClass{}
		}
		return &charClass{ch}
	case '[':
		if allowset {
			return parseClassSet(sc)
		}
		return &charClass{ch}
	//case '^' '$', '(', ')', ']', '*', '+', '-', '?':
	//	panic(newError(sc.CurrentPos(), "invalid %c", ch))
	case EOS:
		panic(newError(sc.CurrentPos(), "unexpected EOS"))
	default:
		return &charClass{ch}
	}
}

func parseClassSet(sc *scanner) class {
	set := &setClass{false, []class{}}
	if sc.Peek() == '^' {
		set.IsNot = true
		sc.Next()
	}
	isrange := false
	for {
		ch := sc.Peek()
		switch ch {
		// case '[':
		// 	panic(newError(sc.CurrentPos(), "'[' can not be nested"))
		case EOS:
			panic(newError(sc.CurrentPos(), "unexpected EOS"))
		case ']':
			if len(set.Classes) > 0 {
				sc.Next()
				goto exit
			}
			fallthrough
		case '-':
			if len(set.Classes) > 0 {
				sc.Next()
				isrange = true
				continue
			}
			fallthrough
		default:
			set.Classes = append(set.Classes, parseClass(sc, false))
		}
		if isrange {
			begin := set.Classes[len(set.Classes)-2]
			end := set.Classes[len(set.Classes)-1]
			set.Classes = set.Classes[0 : len(set.Classes)-2]
			set.Classes = append(set.Classes, &rangeClass{begin, end})
			isrange = false
		}
	}
exit:
	if isrange {
		set.Classes = append(set.Classes, &charClass{'-'})
	}

	return set
}

// parsePattern parses a sequence; at the top level a leading '^' is an
// anchor if anchor is set, else a literal '^'.
func parsePattern(sc *scanner, toplevel, anchor bool) *seqPattern {
	pat := &seqPattern{}
	if toplevel && sc.Peek() == '^' {
		if !anchor {
			sc.Next()
			pat.Patterns = append(pat.Patterns, &singlePattern{&charClass{'^'}})
		} else {
			sc.Next()
			pat.MustHead = true
		}
	}
	for {
		ch := sc.Peek()
		switch ch {
		case '%':
			sc.Save()
			sc.Next()
			switch sc.Peek() {
			case '0':
				panic(newError(sc.CurrentPos(), "invalid capture index"))
			case '1', '2', '3', '4', '5', '6', '7', '8', '9':
				pat.Patterns = append(pat.Patterns, &numberPattern{sc.Next() - 48})
			case 'b':
				sc.Next()
				pat.Patterns = append(pat.Patterns, &bracePattern{sc.Next(), sc.Next()})
			default:
				sc.Restore()
				pat.Patterns = append(pat.Patterns, &singlePattern{parseClass(sc, true)})
			}
		case '.', '[', ']':
			pat.Patterns = append(pat.Patterns, &singlePattern{parseClass(sc, true)})
		//case ']':
		//	panic(newError(sc.CurrentPos(), "invalid ']'"))
		case ')':
			if toplevel {
				panic(newError(sc.CurrentPos(), "invalid ')'"))
			}
			return pat
		case '(':
			sc.Next()
			if sc.Peek() == ')' {
				sc.Next()
				pat.Patterns = append(pat.Patterns, &posCapPattern{})
			} else {
				ret := &capPattern{parsePattern(sc, false, false)}
				if sc.Peek() != ')' {
					panic(newError(sc.CurrentPos(), "unfinished capture"))
				}
				sc.Next()
				pat.Patterns = append(pat.Patterns, ret)
			}
		case '*', '+', '-', '?':
			sc.Next()
			if len(pat.Patterns) > 0 {
				spat, ok := pat.Patterns[len(pat.Patterns)-1].(*singlePattern)
				if ok {
					pat.Patterns = pat.Patterns[0 : len(pat.Patterns)-1]
					pat.Patterns = append(pat.Patterns, &repeatPattern{ch, spat.Class})
					continue
				}
			}
			pat.Patterns = append(pat.Patterns, &singlePattern{&charClass{ch}})
		case '$':
			if toplevel && (sc.NextPos() == sc.Length()-1 || sc.NextPos() == EOS) {
				pat.MustTail = true
			} else {
				pat.Patterns = append(pat.Patterns, &singlePattern{&charClass{ch}})
			}
			sc.Next()
		case EOS:
			sc.Next()
			goto exit
		default:
			sc.Next()
			pat.Patterns = append(pat.Patterns, &singlePattern{&charClass{ch}})
		}
	}
exit:
	return pat
}

type iptr struct {
	insts   []inst
	capture int
}

func compilePattern(p pattern, ps ...*iptr) []inst {
	var ptr *iptr
	toplevel := false
	if len(ps) == 0 {
		toplevel = true
		ptr = &iptr{[]inst{inst{opSave, nil, 0, -1}}, 2}
	} else {
		ptr = ps[0]
	}
	switch pat := p.(type) {
	case *singlePattern:
		ptr.insts = append(ptr.insts, inst{opChar, pat.Class, -1, -1})
	case *seqPattern:
		for _, cp := range pat.Patterns {
			compilePattern(cp, ptr)
		}
	case *repeatPattern:
		idx := len(ptr.insts)
		switch pat.Type {
		case '*':
			ptr.insts = append(ptr.insts,
				inst{opSplit, nil, idx + 1, idx + 3},
				inst{opChar, pat.Class, -1, -1},
				inst{opJmp, nil, idx, -1})
		case '+':
			ptr.insts = append(ptr.insts,
				inst{opChar, pat.Class, -1, -1},
				inst{opSplit, nil, idx, idx + 2})
		case '-':
			ptr.insts = append(ptr.insts,
				inst{opSplit, nil, idx + 3, idx + 1},
				inst{opChar, pat.Class, -1, -1},
				inst{opJmp, nil, idx, -1})
		case '?':
			ptr.insts = append(ptr.insts,
				inst{opSplit, nil, idx + 1, idx + 2},
				inst{opChar, pat.Class, -1, -1})
		}
	case *posCapPattern:
		ptr.insts = append(ptr.insts, inst{opPSave, nil, ptr.capture, -1})
		ptr.capture += 2
	case *capPattern:
		c0, c1 := ptr.capture, ptr.capture+1
		ptr.capture += 2
		ptr.insts = append(ptr.insts, inst{opSave, nil, c0, -1})
		compilePattern(pat.Pattern, ptr)
		ptr.insts = append(ptr.insts, inst{opSave, nil, c1, -1})
	case *bracePattern:
		ptr.insts = append(ptr.insts, inst{opBrace, nil, pat.Begin, pat.End})
	case *numberPattern:
		ptr.insts = append(ptr.insts, inst{opNumber, nil, pat.N, -1})
	}
	if toplevel {
		if p.(*seqPattern).MustTail {
			ptr.insts = append(ptr.insts, inst{opSave, nil, 1, -1}, inst{opTailMatch, nil, -1, -1})
		}
		ptr.insts = append(ptr.insts, inst{opSave, nil, 1, -1}, inst{opMatch, nil, -1, -1})
	}
	return ptr.insts
}

/* }}} parse */

/* VM {{{ */

// stepMask sets how often the VM looks at its done channel: every 4096
// steps, a few microseconds of matching.
const stepMask = 1<<12 - 1

// MaxDepth bounds the VM's recursion. Greedy repetitions (* and +) loop
// instead of recursing, so the depth grows with the pattern's length, not
// the subject's; a deeper match fails with ErrTooComplex instead of
// overflowing the goroutine stack (a fatal, unrecoverable error in Go).
const MaxDepth = 1 << 14

// ErrTooComplex is the error of a match that nests deeper than MaxDepth.
var ErrTooComplex = errors.New("pattern too complex")

// StopError is the error of a match stopped because its done channel was
// closed. Elapsed counts from the start of the Matcher's call (Next or All)
// that was stopped.
type StopError struct {
	Elapsed time.Duration
	Steps   uint64
}

// Error says how long the match ran.
func (e *StopError) Error() string {
	return fmt.Sprintf("pattern too complex: stopped after %v and %d steps", e.Elapsed.Round(time.Millisecond), e.Steps)
}

// machine is one match run: the subject, the program and the step count;
// started is when the current call began (set only with a done channel).
type machine struct {
	src     []byte
	insts   []inst
	steps   uint64
	depth   int
	done    <-chan struct{}
	started time.Time
}

// step counts k steps and checks the done channel when a multiple of 4096
// is crossed.
func (v *machine) step(k int) {
	old := v.steps
	v.steps += uint64(k)
	if old&^stepMask != v.steps&^stepMask {
		v.check()
	}
}

func (v *machine) check() {
	if v.done == nil {
		return
	}
	select {
	case <-v.done:
		panic(&StopError{Elapsed: time.Since(v.started), Steps: v.steps})
	default:
	}
}

func (v *machine) enter() {
	v.depth++
	if v.depth > MaxDepth {
		panic(ErrTooComplex)
	}
}

// star matches class cls greedily from sp, then the program at pc, trying
// the longest run first: what the recursive split/char/jmp loop does, in one
// frame.
func (v *machine) star(cls class, pc, sp int, m *MatchData) (bool, int) {
	src := v.src
	i := 0
	for sp+i < len(src) && cls.Matches(int(src[sp+i])) {
		i++
		if i&stepMask == 0 {
			v.step(stepMask + 1)
		}
	}
	v.step(i & stepMask)
	v.enter()
	for ; i >= 0; i-- {
		v.step(1)
		if ok, nsp := v.run(pc, sp+i, m); ok {
			v.depth--
			return true, nsp
		}
	}
	v.depth--
	return false, sp
}

// Simple recursive virtual machine based on the
// "Regular Expression Matching: the Virtual Machine Approach" (https://swtch.com/~rsc/regexp/regexp2.html)
func (v *machine) run(pc, sp int, m *MatchData) (bool, int) {
	src, insts := v.src, v.insts
redo:
	v.steps++
	if v.steps&stepMask == 0 {
		v.check()
	}
	inst := insts[pc]
	switch inst.OpCode {
	case opChar:
		if sp >= len(src) || !inst.Class.Matches(int(src[sp])) {
			return false, sp
		}
		pc++
		sp++
		goto redo
	case opMatch:
		return true, sp
	case opTailMatch:
		return sp >= len(src), sp
	case opJmp:
		pc = inst.Operand1
		goto redo
	case opSplit:
		// x* compiles to split(pc+1, pc+3) char jmp(pc); x+ to char
		// split(pc-1, pc+1): run both greedy loops without recursion.
		if o1 := inst.Operand1; o1 == pc+1 && inst.Operand2 == pc+3 && insts[pc+1].OpCode == opChar &&
			insts[pc+2].OpCode == opJmp && insts[pc+2].Operand1 == pc {
			return v.star(insts[pc+1].Class, pc+3, sp, m)
		} else if o1 == pc-1 && inst.Operand2 == pc+1 && pc > 0 && insts[pc-1].OpCode == opChar {
			return v.star(insts[pc-1].Class, pc+1, sp, m)
		}
		v.enter()
		ok, nsp := v.run(inst.Operand1, sp, m)
		v.depth--
		if ok {
			return true, nsp
		}
		pc = inst.Operand2
		goto redo
	case opSave:
		s := m.setCapture(inst.Operand1, sp)
		v.enter()
		ok, nsp := v.run(pc+1, sp, m)
		v.depth--
		if ok {
			return true, nsp
		}
		m.restoreCapture(inst.Operand1, s)
		return false, sp
	case opPSave:
		m.addPosCapture(inst.Operand1, sp+1)
		pc++
		goto redo
	case opBrace:
		if sp >= len(src) || int(src[sp]) != inst.Operand1 {
			return false, sp
		}
		start := sp
		count := 1
		for sp = sp + 1; sp < len(src); sp++ {
			if (sp-start)&stepMask == 0 {
				v.step(stepMask + 1)
			}
			if int(src[sp]) == inst.Operand2 {
				count--
			}
			if count == 0 {
				v.step((sp - start) & stepMask)
				pc++
				sp++
				goto redo
			}
			if int(src[sp]) == inst.Operand1 {
				count++
			}
		}
		v.step((sp - start) & stepMask)
		return false, sp
	case opNumber:
		idx := inst.Operand1 * 2
		if idx >= m.CaptureLength()-1 {
			panic(newError(_UNKNOWN, "invalid capture index"))
		}
		b, e := m.Capture(idx), m.Capture(idx+1)
		if e > len(src) || b > e {
			// pm slices past the subject here (a position capture at
			// its end) and panics with a runtime error.
			panic(newError(_UNKNOWN, "invalid capture index"))
		}
		capture := src[b:e]
		v.step(len(capture))
		for i := 0; i < len(capture); i++ {
			if i+sp >= len(src) || capture[i] != src[i+sp] {
				return false, sp
			}
		}
		pc++
		sp += len(capture)
		goto redo
	}
	panic("should not reach here")
}

/* }}} */

/* API {{{ */

// Pattern is a compiled Lua pattern.
type Pattern struct {
	insts    []inst
	mustHead bool
}

// Compile parses and compiles a Lua pattern; a malformed one is an *Error.
// A leading '^' anchors the match at its start offset.
func Compile(p string) (pat *Pattern, err error) { return compile(p, true) }

// CompileUnanchored compiles p as Lua 5.1's string.gmatch reads it: a
// leading '^' is not an anchor but a literal '^' (lstrlib.c's gmatch_aux
// calls do_match on the whole pattern).
func CompileUnanchored(p string) (*Pattern, error) { return compile(p, false) }

func compile(p string, anchor bool) (pat *Pattern, err error) {
	defer func() {
		if v := recover(); v != nil {
			if perr, ok := v.(*Error); ok {
				err = perr
			} else {
				panic(v)
			}
		}
	}()
	sp := parsePattern(newScanner([]byte(p)), true, anchor)
	return &Pattern{insts: compilePattern(sp), mustHead: sp.MustHead}, nil
}

// Matcher finds the successive matches of a Pattern in a subject, the way
// gopher-lua's pm.Find walks it, one match at a time.
type Matcher struct {
	pat   *Pattern
	vm    machine
	sp    int
	ended bool
	spare *MatchData
}

// NewMatcher starts matching pat in src at offset. Closing done stops a
// running match with a *StopError; nil never stops it.
func NewMatcher(pat *Pattern, src []byte, offset int, done <-chan struct{}) *Matcher {
	return &Matcher{pat: pat, vm: machine{src: src, insts: pat.insts, done: done}, sp: offset}
}

// Next returns the next match, or nil after the last one. err is a *Error
// (bad back reference), a *StopError or ErrTooComplex.
func (mt *Matcher) Next() (md *MatchData, err error) {
	defer mt.recover(&err)
	mt.begin()
	for {
		md, more := mt.attempt()
		if md != nil || !more {
			return md, nil
		}
	}
}

// begin marks the start of a call, from which a StopError's Elapsed counts.
func (mt *Matcher) begin() {
	if mt.vm.done != nil {
		mt.vm.started = time.Now()
	}
}

// recover turns the VM's panics into *err and ends the Matcher.
func (mt *Matcher) recover(err *error) {
	v := recover()
	if v == nil {
		return
	}
	mt.ended = true
	switch e := v.(type) {
	case *Error:
		*err = e
	case *StopError:
		*err = e
	case error:
		if e != ErrTooComplex {
			panic(v)
		}
		*err = e
	default:
		panic(v)
	}
}

// attempt tries the match at the current position only and moves on, as one
// turn of pm.Find's loop; more is false once there is nothing left to try.
// The VM panics on errors: callers recover.
func (mt *Matcher) attempt() (md *MatchData, more bool) {
	if mt.ended || mt.sp > len(mt.vm.src) {
		mt.ended = true
		return nil, false
	}
	m := mt.spare
	if m == nil {
		m = newMatchState()
	}
	mt.spare = nil
	mt.vm.depth = 0
	ok, nsp := mt.vm.run(0, mt.sp, m)
	mt.sp++
	if mt.pat.mustHead {
		mt.ended = true
	}
	if ok {
		if mt.sp < nsp {
			mt.sp = nsp
		}
		return m, true
	}
	m.captures = m.captures[:0]
	mt.spare = m
	return nil, true
}

// All collects the matches as pm.Find does, at most limit of them (a
// negative limit: all). As in Lua 5.1's gsub, the limit is checked before
// each position is tried, so a limit of 0 gives no match (pm.Find checks it
// after, and a limit of 0 gives every match).
func (mt *Matcher) All(limit int) (matches []*MatchData, err error) {
	defer mt.recover(&err)
	mt.begin()
	matches = []*MatchData{}
	for len(matches) != limit {
		md, more := mt.attempt()
		if md != nil {
			matches = append(matches, md)
		}
		if !more {
			break
		}
	}
	return matches, nil
}

// SetDone replaces the done channel, for a Matcher taken up again by
// another call (string.gmatch's iterator).
func (mt *Matcher) SetDone(done <-chan struct{}) { mt.vm.done = done }

// Steps is the number of VM steps run so far.
func (mt *Matcher) Steps() uint64 { return mt.vm.steps }

// Find is gopher-lua's pm.Find with a done channel: the matches of p in src
// from offset, at most limit of them (a negative limit: all; 0: none, unlike
// pm.Find, see Matcher.All).
func Find(p string, src []byte, offset, limit int, done <-chan struct{}) ([]*MatchData, error) {
	pat, err := Compile(p)
	if err != nil {
		return nil, err
	}
	matches, err := NewMatcher(pat, src, offset, done).All(limit)
	if err != nil {
		return nil, err
	}
	return matches, nil
}

/* }}} */
