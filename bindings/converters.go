package bindings

import (
	"strings"

	lua "github.com/yuin/gopher-lua"
	luar "layeh.com/gopher-luar"

	"github.com/switchlua/switchlua/models"
)

// converters turn Lua option tables into the models option structs with
// gopher-luar (snake_case field names through the Runtime's luar.Config; an
// unknown field is an error that names it). Each is a luar-wrapped Go
// function called with the table; the function stores its converted
// argument here. Only the Listener goroutine uses them.
type converters struct {
	fBridge, fPlayback, fRecord, fExecute *lua.LFunction

	bridgeV   models.BridgeOptions
	playbackV models.PlaybackOptions
	recordV   models.RecordOptions
	executeV  models.ExecuteOptions
}

// init makes the luar functions; they write into c, so c must not move
// afterwards (it lives inside the Runtime).
func (c *converters) init(L *lua.LState) {
	c.fBridge = luar.New(L, func(o models.BridgeOptions) { c.bridgeV = o }).(*lua.LFunction)
	c.fPlayback = luar.New(L, func(o models.PlaybackOptions) { c.playbackV = o }).(*lua.LFunction)
	c.fRecord = luar.New(L, func(o models.RecordOptions) { c.recordV = o }).(*lua.LFunction)
	c.fExecute = luar.New(L, func(o models.ExecuteOptions) { c.executeV = o }).(*lua.LFunction)
}

// newValue is luar.New.
func (c *converters) newValue(L *lua.LState, v any) lua.LValue { return luar.New(L, v) }

// call converts t with fn, raising a Lua error that names the method on a
// bad table.
func (c *converters) call(L *lua.LState, fn *lua.LFunction, t *lua.LTable, what string) {
	if err := L.CallByParam(lua.P{Fn: fn, NRet: 0, Protect: true}, normalizeParams(L, t)); err != nil {
		msg := err.Error()
		if ae, ok := err.(*lua.ApiError); ok && ae.Object != nil {
			msg = ae.Object.String()
		}
		// luar says "type models.BridgeOptions has no field foo".
		if i := strings.Index(msg, "has no field "); i >= 0 {
			msg = "unknown option " + strings.TrimSpace(msg[i+len("has no field "):])
		}
		L.RaiseError("%s: bad options: %s", what, msg)
	}
}

// normalizeParams returns t, or a copy whose params table has its values
// turned into strings ({leg_timeout = 30} is fine in Lua; luar would refuse
// a number for a map[string]string).
func normalizeParams(L *lua.LState, t *lua.LTable) *lua.LTable {
	p, ok := t.RawGetString("params").(*lua.LTable)
	if !ok {
		return t
	}
	needs := false
	p.ForEach(func(_, v lua.LValue) {
		if _, isStr := v.(lua.LString); !isStr {
			needs = true
		}
	})
	if !needs {
		return t
	}
	np := L.CreateTable(0, 4)
	p.ForEach(func(k, v lua.LValue) { np.RawSet(k, lua.LString(v.String())) })
	cp := L.CreateTable(0, 8)
	t.ForEach(func(k, v lua.LValue) { cp.RawSet(k, v) })
	cp.RawSetString("params", np)
	return cp
}

func (c *converters) bridge(L *lua.LState, t *lua.LTable) models.BridgeOptions {
	c.bridgeV = models.BridgeOptions{}
	c.call(L, c.fBridge, t, "sess:bridge()")
	return c.bridgeV
}

func (c *converters) playback(L *lua.LState, t *lua.LTable) models.PlaybackOptions {
	c.playbackV = models.PlaybackOptions{}
	c.call(L, c.fPlayback, t, "sess:playback()")
	return c.playbackV
}

func (c *converters) record(L *lua.LState, t *lua.LTable) models.RecordOptions {
	c.recordV = models.RecordOptions{}
	c.call(L, c.fRecord, t, "sess:start_record()")
	return c.recordV
}

func (c *converters) execute(L *lua.LState, t *lua.LTable) models.ExecuteOptions {
	c.executeV = models.ExecuteOptions{}
	c.call(L, c.fExecute, t, "sess:execute()")
	return c.executeV
}
