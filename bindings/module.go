package bindings

import (
	"context"
	_ "embed"
	"log/slog"
	"strings"
	"sync"

	lua "github.com/yuin/gopher-lua"
)

// logModule builds the `log` table: log.debug/info/warn/error(...) write one
// slog record with the arguments joined by spaces (tostring'd), the app, the
// current session uuid and the script:line of the call.
func (r *Runtime) logModule() *lua.LTable {
	t := r.L.NewTable()
	for name, lvl := range map[string]slog.Level{
		"debug": slog.LevelDebug, "info": slog.LevelInfo,
		"warn": slog.LevelWarn, "error": slog.LevelError,
	} {
		lvl := lvl
		t.RawSetString(name, r.L.NewFunction(func(L *lua.LState) int {
			r.logf(L, lvl, 1)
			return 0
		}))
	}
	return t
}

// lPrint is print(...): log.info.
func (r *Runtime) lPrint(L *lua.LState) int {
	r.logf(L, slog.LevelInfo, 1)
	return 0
}

func (r *Runtime) logf(L *lua.LState, lvl slog.Level, first int) {
	ctx := context.Background()
	if !r.log.Enabled(ctx, lvl) {
		return
	}
	var b strings.Builder
	for i := first; i <= L.GetTop(); i++ {
		if i > first {
			b.WriteByte(' ')
		}
		v := L.Get(i)
		if s, ok := v.(lua.LString); ok {
			b.WriteString(string(s))
			continue
		}
		b.WriteString(L.ToStringMeta(v).String())
	}
	attrs := make([]slog.Attr, 0, 4)
	if a, uuid := r.context(); a != "" {
		attrs = append(attrs, slog.String("app", a))
		if uuid != "" {
			attrs = append(attrs, slog.String("uuid", uuid))
		}
	}
	if where := strings.TrimSuffix(L.Where(1), ":"); where != "" {
		attrs = append(attrs, slog.String("src", where))
	}
	r.log.LogAttrs(ctx, lvl, b.String(), attrs...)
}

// context returns the app and session uuid of the code running now.
func (r *Runtime) context() (appID, uuid string) {
	if r.cur != nil {
		return r.cur.run.appID(), r.cur.run.uuid
	}
	if r.loading != nil {
		return r.loading.id, ""
	}
	return "", ""
}

// lAPI is switchlua.api(cmd) and ctx.api(cmd): runs the api command with
// bgapi through the host (Host.BackgroundAPI) and waits for its
// BACKGROUND_JOB: the result text, or nil, err ("-ERR ..." results, a
// refused bgapi, a lost connection). An "api " or "bgapi " prefix is
// dropped; a raw "sendmsg ..." or "sendevent ..." goes out as it is
// (Host.API) and returns its reply.
func (r *Runtime) lAPI(L *lua.LState) int {
	cmd := L.CheckString(1)
	if L.GetTop() >= 2 { // ctx:api(cmd)
		if _, ok := L.Get(1).(*lua.LTable); ok {
			cmd = L.CheckString(2)
		}
	}
	co := r.yieldable(L, "api()")
	seq := co.suspend(L, waitCmd)
	co.resetRecent()
	done := func(reply string, err error) {
		if err != nil {
			r.wake(co, seq, waitCmd, lua.LNil, lua.LString(err.Error()))
			return
		}
		r.wake(co, seq, waitCmd, lua.LString(reply))
	}
	bg, raw := apiCommand(cmd)
	if raw {
		r.host.API(bg, done)
	} else {
		r.host.BackgroundAPI(bg, done)
	}
	return co.yield(L)
}

// apiCommand splits what switchlua.api was given: an api command to run
// with bgapi (its "api "/"bgapi " prefix dropped), or a raw sendmsg or
// sendevent (raw is true).
func apiCommand(cmd string) (string, bool) {
	cmd = strings.TrimLeft(cmd, " \t")
	for _, p := range []string{"sendmsg", "sendevent "} {
		if strings.HasPrefix(cmd, p) {
			return cmd, true
		}
	}
	for _, p := range []string{"bgapi ", "api "} {
		if rest, ok := strings.CutPrefix(cmd, p); ok {
			return strings.TrimLeft(rest, " "), false
		}
	}
	return cmd, false
}

//go:embed lua/router.lua
var routerSource string

var routerProto = sync.OnceValues(func() (*lua.FunctionProto, error) {
	return Compile("@switchlua/router.lua", []byte(routerSource))
})

// routerModule returns switchlua.router (also require("switchlua.router")),
// running its chunk on first use on the calling state L.
func (r *Runtime) routerModule(L *lua.LState) lua.LValue {
	if r.router != nil {
		return r.router
	}
	proto, err := routerProto()
	if err != nil {
		L.RaiseError("switchlua.router: %v", err)
	}
	fn := L.NewFunctionFromProto(proto)
	fn.Env = r.globals
	L.Push(fn)
	if err := L.PCall(0, 1, nil); err != nil {
		L.RaiseError("switchlua.router: %v", err)
	}
	r.router = L.Get(-1)
	L.Pop(1)
	return r.router
}
