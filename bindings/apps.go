package bindings

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// app is one generation of a loaded app.
type app struct {
	id      string
	gen     uint64
	spec    AppSpec
	scripts []*script
	state   *lua.LTable // the `state` global every script starts with
	ctx     *lua.LTable // setup's ctx
	modules map[string]lua.LValue
	loading map[string]bool // modules being required (cycle check)
	events  map[string]bool // event names found in the scripts' constants
}

// script is one script of an app generation, with its own environment.
type script struct {
	app   *app
	path  string
	env   *lua.LTable
	on    map[string][]*lua.LFunction // on(name, fn) handlers by dispatch key
	onKey []string                    // keys in first-registration order
}

// newEnv makes a script environment: a table whose misses fall back to the
// sandboxed globals, with its own _G, on, require, load and loadstring, and
// `state` preset to the app's state table.
func (r *Runtime) newEnv(a *app, path string, withOn bool) *script {
	L := r.L
	sc := &script{app: a, path: path, env: L.CreateTable(0, 16)}
	mt := L.CreateTable(0, 2)
	mt.RawSetString("__index", r.globals)
	mt.RawSetString("__metatable", lua.LFalse)
	L.SetMetatable(sc.env, mt)
	env := sc.env
	env.RawSetString("_G", env)
	env.RawSetString("state", a.state)
	if withOn {
		env.RawSetString("on", L.NewFunction(func(L *lua.LState) int { return r.lOn(L, sc) }))
	}
	env.RawSetString("require", L.NewFunction(func(L *lua.LState) int { return r.lRequire(L, sc) }))
	env.RawSetString("load", L.NewFunction(func(L *lua.LState) int { return r.lLoad(L, sc, false) }))
	env.RawSetString("loadstring", L.NewFunction(func(L *lua.LState) int { return r.lLoad(L, sc, true) }))
	return sc
}

// lOn is on(name, fn): registers fn for an event name (any ESL event, or a
// CUSTOM subclass as "sub::class" or "CUSTOM sub::class").
func (r *Runtime) lOn(L *lua.LState, sc *script) int {
	key := eventName(L.CheckString(1))
	fn := L.CheckFunction(2)
	if err := checkEventKey(key); err != nil {
		// Never subscribed: FreeSWITCH would refuse the whole `event`
		// command without naming the bad word.
		L.RaiseError("on(): %s", err.Error())
	}
	if sc.on == nil {
		sc.on = make(map[string][]*lua.LFunction)
	}
	if _, seen := sc.on[key]; !seen {
		sc.onKey = append(sc.onKey, key)
	}
	sc.on[key] = append(sc.on[key], fn)
	if r.loading == nil { // registered at run time: maybe a new subscription
		r.needEvents([]string{key})
	}
	return 0
}

// needEvents notes event keys used at run time; if one is not in the last
// Events() result, the host is told (through Post) to re-subscribe.
func (r *Runtime) needEvents(keys []string) {
	if r.known == nil {
		r.events()
	}
	changed := false
	for _, k := range keys {
		sub := subscription(k)
		if r.known[sub] || r.dyn[sub] {
			continue
		}
		r.dyn[sub] = true
		changed = true
	}
	if changed && r.opt.OnEventsChange != nil {
		r.host.Post(r.opt.OnEventsChange)
	}
}

// lRequire is require(name): "switchlua", "switchlua.router", or a module
// the host resolves from the scripts' own folders (Options.Module). Modules
// are cached per app generation, so a reload gets fresh ones.
func (r *Runtime) lRequire(L *lua.LState, sc *script) int {
	name := L.CheckString(1)
	switch name {
	case "switchlua":
		L.Push(r.module)
		return 1
	case "switchlua.router":
		L.Push(r.routerModule(L))
		return 1
	}
	a := sc.app
	if v, ok := a.modules[name]; ok {
		L.Push(v)
		return 1
	}
	if a.loading[name] {
		L.RaiseError("require %q: loop (the module requires itself)", name)
	}
	var s Script
	var err error
	if r.opt.Module == nil {
		err = errors.New("no module folder configured")
	} else {
		s, err = r.opt.Module(name)
		if err == nil && s.Proto == nil {
			err = errors.New("no compiled chunk")
		}
	}
	if err != nil {
		if r.opt.Unsafe {
			if req, ok := r.globals.RawGetString("require").(*lua.LFunction); ok {
				L.Push(req)
				L.Push(lua.LString(name))
				L.Call(1, 1)
				return 1
			}
		}
		L.RaiseError("module %q not found: %v (require is limited to the scripts' own folders)", name, err)
	}
	if bad := badEventLiterals(s, true); len(bad) > 0 {
		L.RaiseError("require %q: %s", name, bad[0].String())
	}
	msc := r.newEnv(a, s.Path, false)
	fn := L.NewFunctionFromProto(s.Proto)
	fn.Env = msc.env
	if a.loading == nil {
		a.loading = make(map[string]bool)
	}
	a.loading[name] = true
	defer delete(a.loading, name)
	L.Push(fn)
	L.Push(lua.LString(name))
	L.Call(1, 1)
	v := L.Get(-1)
	L.Pop(1)
	if v == lua.LNil {
		v = msc.env // a module that set globals: its environment
	}
	if a.modules == nil {
		a.modules = make(map[string]lua.LValue)
	}
	a.modules[name] = v
	protoEvents(s.Proto, a.events)
	L.Push(v)
	return 1
}

// lLoad is load(chunk [, name]) / loadstring(s [, name]): text only (no
// bytecode), the chunk runs in the calling script's environment.
func (r *Runtime) lLoad(L *lua.LState, sc *script, isString bool) int {
	var src string
	switch v := L.Get(1).(type) {
	case lua.LString:
		src = string(v)
	case *lua.LFunction:
		if isString {
			L.ArgError(1, "string expected")
		}
		var b strings.Builder
		for {
			L.Push(v)
			L.Call(0, 1)
			piece := L.Get(-1)
			L.Pop(1)
			s, ok := piece.(lua.LString)
			if !ok || s == "" {
				break
			}
			b.WriteString(string(s))
		}
		src = b.String()
	default:
		L.ArgError(1, "string expected")
	}
	name := L.OptString(2, "=(load)")
	if strings.HasPrefix(src, "\x1b") {
		L.Push(lua.LNil)
		L.Push(lua.LString("load: binary chunks are not allowed"))
		return 2
	}
	fn, err := L.Load(strings.NewReader(src), name)
	if err != nil {
		L.Push(lua.LNil)
		L.Push(lua.LString(err.Error()))
		return 2
	}
	fn.Env = sc.env
	L.Push(fn)
	return 1
}

// load installs or replaces an app (see Runtime.Load).
func (r *Runtime) load(spec AppSpec) error {
	if r.closed {
		return errors.New("bindings: runtime closed")
	}
	if spec.ID == "" {
		spec.ID = "default"
	}
	old := r.apps[spec.ID]
	r.gen++
	a := &app{id: spec.ID, gen: spec.Generation, spec: spec, events: make(map[string]bool)}
	if a.gen == 0 {
		a.gen = r.gen
	}
	if old != nil {
		a.state = old.currentState()
	} else {
		a.state = r.L.NewTable()
	}
	for _, s := range spec.Scripts {
		if s.Proto == nil {
			return fmt.Errorf("%s: no compiled chunk", s.Path)
		}
		if bad := badEventLiterals(s, true); len(bad) > 0 {
			return errors.New(bad[0].String())
		}
	}
	for _, s := range spec.Scripts {
		sc := r.newEnv(a, s.Path, true)
		a.scripts = append(a.scripts, sc)
		protoEvents(s.Proto, a.events)
		if err := r.runChunk(a, sc, s); err != nil {
			return err
		}
	}
	// The new generation is good: swap. teardown() of the old generation
	// runs before setup() of the new one (they may share resources).
	if old != nil {
		r.teardown(old)
	} else {
		r.order = append(r.order, spec.ID)
	}
	r.apps[spec.ID] = a
	r.known = nil
	if err := r.setup(a); err != nil {
		// setup raised before its first yield: the new generation is
		// refused. The old one comes back and its setup runs again (its
		// teardown has run); on a first load the app is not installed.
		r.known = nil
		if old != nil {
			r.apps[spec.ID] = old
			if rerr := r.setup(old); rerr != nil {
				r.nerr++
				r.log.Error("lua setup of the restored generation failed", "app", old.id, "generation", old.gen, "err", rerr.Error())
			}
		} else {
			delete(r.apps, spec.ID)
			r.order = slices.DeleteFunc(r.order, func(id string) bool { return id == spec.ID })
		}
		return err
	}
	return nil
}

// runChunk runs a script's top-level code on the main state, under the CPU
// budget. Top-level code cannot wait.
func (r *Runtime) runChunk(a *app, sc *script, s Script) error {
	L := r.L
	fn := L.NewFunctionFromProto(s.Proto)
	fn.Env = sc.env
	prev := r.loading
	r.loading = a
	r.arm(L)
	L.Push(fn)
	err := L.PCall(0, 0, nil)
	fired := r.disarm()
	if r.wd != nil {
		L.RemoveContext()
	}
	r.loading = prev
	if err != nil {
		return r.luaError(err, fired)
	}
	return nil
}

// currentState is the table to carry over to the next generation: the
// `state` a script replaced, else the one it started with.
func (a *app) currentState() *lua.LTable {
	for _, sc := range a.scripts {
		if t, ok := sc.env.RawGetString("state").(*lua.LTable); ok && t != a.state {
			return t
		}
	}
	return a.state
}

// setup runs setup(ctx) of each script of a, in load order, as callbacks.
// If one raises before its first yield, setup stops there: the scripts
// whose setup already ran get their teardown(ctx), in load order, and the
// error (script:line) is returned. An error after a yield is a callback
// error like any other (logged and counted; the generation stays).
func (r *Runtime) setup(a *app) error {
	L := r.L
	ctx := L.NewTable()
	args := L.NewTable()
	for _, k := range sortedKeys(a.spec.Args) {
		args.RawSetString(k, lua.LString(a.spec.Args[k]))
	}
	ctx.RawSetString("args", args)
	ctx.RawSetString("node", lua.LString(r.host.Node()))
	ctx.RawSetString("app", lua.LString(a.id))
	ctx.RawSetString("generation", lua.LNumber(a.gen))
	ctx.RawSetString("api", L.NewFunction(r.lAPI))
	a.ctx = ctx
	for i, sc := range a.scripts {
		fn, ok := sc.env.RawGetString("setup").(*lua.LFunction)
		if !ok {
			continue
		}
		if done, err := r.startSync(a, "setup", fn, ctx); done && err != nil {
			for _, prev := range a.scripts[:i] {
				if _, had := prev.env.RawGetString("setup").(*lua.LFunction); !had {
					continue
				}
				if td, ok := prev.env.RawGetString("teardown").(*lua.LFunction); ok {
					r.start(a, nil, "teardown", td, a.ctx, lua.LNil, lua.LNil)
				}
			}
			return fmt.Errorf("%w (in setup)", err)
		}
	}
	return nil
}

// teardown runs teardown() of each script of a, in load order.
func (r *Runtime) teardown(a *app) {
	for _, sc := range a.scripts {
		if fn, ok := sc.env.RawGetString("teardown").(*lua.LFunction); ok {
			r.start(a, nil, "teardown", fn, a.ctx, lua.LNil, lua.LNil)
		}
	}
}

func (r *Runtime) unload(id string) {
	a := r.apps[id]
	if a == nil {
		return
	}
	r.teardown(a)
	delete(r.apps, id)
	r.order = slices.DeleteFunc(r.order, func(x string) bool { return x == id })
	r.known = nil
}

// events computes Events(): for each loaded app, the events of its defined
// on_* callbacks and on() registrations, plus event names and CUSTOM
// subclasses that appear as string constants in its scripts (sess:wait
// arguments), plus what scripts asked for at run time.
func (r *Runtime) events() []string {
	set := make(map[string]bool)
	for _, id := range r.order {
		a := r.apps[id]
		for _, sc := range a.scripts {
			for cb, ev := range callbackEvents {
				if _, ok := sc.env.RawGetString(cb).(*lua.LFunction); ok {
					set[ev] = true
				}
			}
			for _, k := range sc.onKey {
				set[subscription(k)] = true
			}
		}
		for ev := range a.events {
			set[ev] = true
		}
	}
	for ev := range r.dyn {
		set[ev] = true
	}
	r.known = set
	out := make([]string, 0, len(set))
	for ev := range set {
		out = append(out, ev)
	}
	sort.Strings(out)
	return out
}
