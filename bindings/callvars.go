package bindings

import (
	"sort"

	lua "github.com/yuin/gopher-lua"
)

// call.vars is a view of models.Call.Vars, the call's state shared with Go
// (the originator reads call.vars.noautohangup). Lua writes strings,
// numbers and booleans as Go string, float64 and bool (nil deletes a key;
// other Lua values are kept as they are, for Lua); Lua reads Go's strings,
// numbers and booleans as Lua values. pairs(call.vars) walks it in key
// order, #call.vars counts its keys. Keys are strings (a number key is
// used as its string form).

func checkVars(L *lua.LState) *callObj {
	if ud, ok := L.Get(1).(*lua.LUserData); ok {
		if c, ok := ud.Value.(*callObj); ok {
			return c
		}
	}
	L.ArgError(1, "call.vars expected")
	return nil
}

// varKey reads a call.vars key: a string, or a number in its string form.
func varKey(L *lua.LState, n int) string {
	switch k := L.Get(n).(type) {
	case lua.LString:
		return string(k)
	case lua.LNumber:
		return k.String()
	}
	L.ArgError(n, "call.vars keys are strings")
	return ""
}

// goToLua converts a value of Call.Vars for Lua.
func (r *Runtime) goToLua(L *lua.LState, v any) lua.LValue {
	switch x := v.(type) {
	case nil:
		return lua.LNil
	case lua.LValue:
		return x
	case string:
		return lua.LString(x)
	case bool:
		return lua.LBool(x)
	case float64:
		return lua.LNumber(x)
	case float32:
		return lua.LNumber(x)
	case int:
		return lua.LNumber(x)
	case int64:
		return lua.LNumber(x)
	case int32:
		return lua.LNumber(x)
	case uint64:
		return lua.LNumber(x)
	case uint32:
		return lua.LNumber(x)
	}
	return r.conv.newValue(L, v)
}

// luaToGo converts a Lua value for Call.Vars.
func luaToGo(v lua.LValue) any {
	switch x := v.(type) {
	case lua.LString:
		return string(x)
	case lua.LNumber:
		return float64(x)
	case lua.LBool:
		return bool(x)
	}
	return v
}

// initCallVars builds call.vars' metatable.
func (r *Runtime) initCallVars() {
	L := r.L
	mt := L.NewTable()
	mt.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		c := checkVars(L)
		L.Push(r.goToLua(L, c.Vars[varKey(L, 2)]))
		return 1
	}))
	mt.RawSetString("__newindex", L.NewFunction(func(L *lua.LState) int {
		c := checkVars(L)
		k := varKey(L, 2)
		if v := L.Get(3); v == lua.LNil {
			delete(c.Vars, k)
		} else {
			c.Vars[k] = luaToGo(v)
		}
		return 0
	}))
	mt.RawSetString("__len", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LNumber(len(checkVars(L).Vars)))
		return 1
	}))
	mt.RawSetString("__pairs", L.NewFunction(func(L *lua.LState) int {
		c := checkVars(L)
		keys := make([]string, 0, len(c.Vars))
		for k := range c.Vars {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		i := 0
		L.Push(L.NewFunction(func(L *lua.LState) int {
			for i < len(keys) {
				k := keys[i]
				i++
				if v, ok := c.Vars[k]; ok { // skip keys deleted meanwhile
					L.Push(lua.LString(k))
					L.Push(r.goToLua(L, v))
					return 2
				}
			}
			L.Push(lua.LNil)
			return 1
		}))
		L.Push(L.Get(1))
		L.Push(lua.LNil)
		return 3
	}))
	mt.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString("call.vars " + checkVars(L).UUID))
		return 1
	}))
	mt.RawSetString("__metatable", lua.LString("call.vars"))
	r.varsMT = mt
}
