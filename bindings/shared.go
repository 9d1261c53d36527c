package bindings

import (
	"fmt"

	lua "github.com/yuin/gopher-lua"
)

// data returns s, initialising the map of a zero Shared.
func (s *Shared) data() *Shared {
	s.once.Do(func() {
		if s.m == nil {
			s.m = make(map[string]any)
		}
	})
	return s
}

// Get returns the value stored under key: a string, a float64 or a bool; ok is
// false when there is none.
func (s *Shared) Get(key string) (v any, ok bool) {
	d := s.data()
	d.mu.RLock()
	v, ok = d.m[key]
	d.mu.RUnlock()
	return v, ok
}

// Set stores v under key; v must be a string, a number (stored as float64) or
// a bool. A nil v deletes the key.
func (s *Shared) Set(key string, v any) error {
	switch x := v.(type) {
	case nil:
		s.Delete(key)
		return nil
	case string, bool, float64:
	case int:
		v = float64(x)
	case int64:
		v = float64(x)
	default:
		return fmt.Errorf("switchlua.shared: cannot store a %T (strings, numbers and booleans only)", v)
	}
	d := s.data()
	d.mu.Lock()
	d.m[key] = v
	d.mu.Unlock()
	return nil
}

// Delete removes key.
func (s *Shared) Delete(key string) {
	d := s.data()
	d.mu.Lock()
	delete(d.m, key)
	d.mu.Unlock()
}

// Incr adds n to the number stored under key (a missing key counts as 0) and
// returns the new value, atomically. A key that holds a non-number is an error.
func (s *Shared) Incr(key string, n float64) (float64, error) {
	d := s.data()
	d.mu.Lock()
	defer d.mu.Unlock()
	cur := 0.0
	if v, ok := d.m[key]; ok {
		f, isNum := v.(float64)
		if !isNum {
			return 0, fmt.Errorf("switchlua.shared: %q holds a %T, not a number", key, v)
		}
		cur = f
	}
	cur += n
	d.m[key] = cur
	return cur, nil
}

// Len returns the number of keys.
func (s *Shared) Len() int {
	d := s.data()
	d.mu.RLock()
	defer d.mu.RUnlock()
	return len(d.m)
}

// sharedModule builds the Lua table switchlua.shared: get(k), set(k, v),
// incr(k[, n]), delete(k). Both shared.get(k) and shared:get(k) work.
func sharedModule(L *lua.LState, s *Shared) *lua.LTable {
	t := L.NewTable()
	// arg returns the index of the first real argument (2 when called with ':').
	arg := func(L *lua.LState) int {
		if L.Get(1) == t {
			return 2
		}
		return 1
	}
	L.SetFuncs(t, map[string]lua.LGFunction{
		"get": func(L *lua.LState) int {
			i := arg(L)
			v, ok := s.Get(L.CheckString(i))
			if !ok {
				L.Push(lua.LNil)
				return 1
			}
			L.Push(goToLua(v))
			return 1
		},
		"set": func(L *lua.LState) int {
			i := arg(L)
			k := L.CheckString(i)
			var v any
			switch x := L.Get(i + 1).(type) {
			case lua.LString:
				v = string(x)
			case lua.LNumber:
				v = float64(x)
			case lua.LBool:
				v = bool(x)
			case *lua.LNilType:
				v = nil
			default:
				L.ArgError(i+1, "switchlua.shared stores strings, numbers and booleans, not "+x.Type().String())
			}
			if err := s.Set(k, v); err != nil {
				L.RaiseError("%s", err.Error())
			}
			return 0
		},
		"incr": func(L *lua.LState) int {
			i := arg(L)
			k := L.CheckString(i)
			n := float64(L.OptNumber(i+1, 1))
			v, err := s.Incr(k, n)
			if err != nil {
				L.Push(lua.LNil)
				L.Push(lua.LString(err.Error()))
				return 2
			}
			L.Push(lua.LNumber(v))
			return 1
		},
		"delete": func(L *lua.LState) int {
			s.Delete(L.CheckString(arg(L)))
			return 0
		},
	})
	return t
}

func goToLua(v any) lua.LValue {
	switch x := v.(type) {
	case string:
		return lua.LString(x)
	case float64:
		return lua.LNumber(x)
	case bool:
		return lua.LBool(x)
	}
	return lua.LNil
}
