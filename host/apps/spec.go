package apps

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/switchlua/switchlua/scripts/builtin"
)

// Spec is one `--script` argument, parsed and resolved:
//
//	app.lua                      the file app.lua, app id "app", weight 1
//	toneplay  (or TonePlay)      the built-in app toneplay
//	calls/a.lua:weight=3         weight 3 in the Originator's mix
//	a.lua:greeting=hi:n=2        ctx.args = {greeting = "hi", n = "2"} in setup(ctx)
//	a.lua:app=ivr b.lua:app=ivr  two scripts composed (in that order) under app id "ivr"
//
//	router:^1(%d%d%d)$=sofia/internal/%1@pbx:5060
//	                             ctx.args = {["^1(%d%d%d)$"] = "sofia/internal/%1@pbx:5060"}
//
// The first field is a path to a `.lua` file or a built-in app name; each
// following `:k=v` pair is an option. `weight` and `app` are the manager's;
// every other key reaches setup(ctx) as ctx.args[k]. A key is a name
// (letters, digits, '_', '-', '.') or a Lua pattern that starts with '^'
// (any characters but ':', '=' and blanks), as the Router's routes. A ':'
// that does not start such a `key=` belongs to the value before it, so
// values may hold SIP URIs (`url=sip:1000@pbx:5060;transport=tcp`).
type Spec struct {
	// Arg is the argument as given.
	Arg string
	// Path is the script file (cleaned), "" for a built-in app.
	Path string
	// Builtin is the built-in app's name ("toneplay"), "" for a file.
	Builtin string
	// App is the app id: `:app=ID`, else the file's base name without .lua,
	// else the built-in's name. AppSet tells whether the argument named it
	// (only scripts that all name the same app compose under one id).
	App    string
	AppSet bool
	// Weight is the app's share of originated calls (`:weight=N`, a whole
	// number >= 0; 0 loads the app without originating calls for it).
	// WeightSet tells whether the argument gave one (the default is 1).
	Weight    int
	WeightSet bool
	// Args are the other `k=v` pairs, for ctx.args.
	Args map[string]string
}

// ParseSpec parses and resolves one `--script` argument. The file must exist
// (it is compiled later, by New). The whole argument, then the longest part
// of it that ends before a `:key=` option, is tried as an existing file
// first, so paths with `=` or `:key=` in a folder name work
// (/tmp/x=1/a.lua:weight=2). A name that is not an existing file, has no
// path separator and names a built-in app (case-insensitive, ".lua"
// optional) is that built-in.
func ParseSpec(arg string) (Spec, error) {
	sp, err := parseSpec(arg)
	if err != nil {
		return Spec{}, err
	}
	return resolveSpec(sp)
}

// ParseSpecs parses every argument (see ParseSpec) and checks them together:
// a file given twice, or two files whose default app ids collide, are errors.
func ParseSpecs(args []string) ([]Spec, error) {
	if len(args) == 0 {
		return nil, errors.New("no script given (a .lua file or a built-in app: " + builtinNames() + ")")
	}
	out := make([]Spec, 0, len(args))
	var errs []error
	for _, a := range args {
		sp, err := ParseSpec(a)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, sp)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if _, err := group(out); err != nil {
		return nil, err
	}
	return out, nil
}

// parseSpec splits arg into its source and options. A file path may itself
// hold `=` or `:key=` (/tmp/x=1/a.lua), so the whole argument, then each
// shorter prefix that ends before an option, is tried as an existing file
// first (the longest wins); failing that, the source ends at the first
// option.
func parseSpec(arg string) (Spec, error) {
	sp := Spec{Arg: arg, Weight: 1}
	if strings.TrimSpace(arg) == "" {
		return sp, errors.New("script spec: empty")
	}
	// Options start at each ':' followed by `key=`; any other ':' belongs to
	// the path before or the value before (sip:1000@host:5060).
	var cuts []int
	for i := 0; i < len(arg); i++ {
		if arg[i] == ':' && optionAt(arg[i+1:]) {
			cuts = append(cuts, i)
		}
	}
	cuts = append(cuts, len(arg))
	for i := len(cuts) - 1; i > 0; i-- {
		if isFile(arg[:cuts[i]]) {
			cuts = cuts[i:]
			break
		}
	}
	src := arg[:cuts[0]]
	if src == "" {
		return sp, fmt.Errorf("script spec %q: no file or app name before the options", arg)
	}
	if strings.Contains(src, "=") && !pathLike(src) {
		// Paths are reported by resolveSpec (no such file, a directory).
		return sp, fmt.Errorf("script spec %q: %q is not a file or app name (options follow it as :key=value)", arg, src)
	}
	sp.Path = src
	var parts []string
	for i := 0; i+1 < len(cuts); i++ {
		parts = append(parts, arg[cuts[i]+1:cuts[i+1]])
	}
	for _, kv := range parts {
		k, v, _ := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if k == "" || strings.ContainsAny(k, " \t") {
			return sp, fmt.Errorf("script spec %q: bad option %q (want key=value)", arg, kv)
		}
		switch k {
		case "weight":
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < 0 {
				return sp, fmt.Errorf("script spec %q: weight %q is not a whole number >= 0", arg, v)
			}
			if sp.WeightSet && n != sp.Weight {
				return sp, fmt.Errorf("script spec %q: weight given twice", arg)
			}
			sp.Weight, sp.WeightSet = n, true
		case "app":
			if err := checkAppID(v); err != nil {
				return sp, fmt.Errorf("script spec %q: %w", arg, err)
			}
			if sp.App != "" && sp.App != v {
				return sp, fmt.Errorf("script spec %q: app given twice", arg)
			}
			sp.App, sp.AppSet = v, true
		default:
			if sp.Args == nil {
				sp.Args = make(map[string]string)
			}
			if old, ok := sp.Args[k]; ok && old != v {
				return sp, fmt.Errorf("script spec %q: option %q given twice", arg, k)
			}
			sp.Args[k] = v
		}
	}
	return sp, nil
}

// isFile reports whether path names an existing file that is not a
// directory.
func isFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir()
}

// pathLike reports whether src is meant as a path: it has a separator, ends
// in .lua, or exists.
func pathLike(src string) bool {
	if strings.ContainsAny(src, `/\`) || strings.HasSuffix(src, ".lua") {
		return true
	}
	_, err := os.Stat(src)
	return err == nil
}

// optionAt reports whether s starts with `key=`. A key is either a name
// (letters, digits, '_', '-', '.') or a Lua pattern anchored with '^', as
// the built-in Router's routes (`^1(%d%d%d)$`), which may hold any
// character but ':', '=' and blanks. Any other ':' belongs to the path or
// the value before it: no part of a SIP URI or dial string after a ':'
// starts with '^', so `dest=sip:1000@pbx:5060;transport=tcp` stays one
// value.
func optionAt(s string) bool {
	if strings.HasPrefix(s, "^") {
		for i := 1; i < len(s); i++ {
			switch s[i] {
			case '=':
				return true
			case ':', ' ', '\t', '\n', '\r':
				return false
			}
		}
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '=':
			return i > 0
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-', c == '.':
		default:
			return false
		}
	}
	return false
}

// resolveSpec decides between a file and a built-in app and sets the
// default app id.
func resolveSpec(sp Spec) (Spec, error) {
	src := sp.Path
	fi, statErr := os.Stat(src)
	switch {
	case statErr == nil && fi.IsDir():
		return sp, fmt.Errorf("script %s: is a directory (give the .lua file)", src)
	case statErr == nil:
		sp.Path = filepath.Clean(src)
		if sp.App == "" {
			id := strings.TrimSuffix(filepath.Base(sp.Path), ".lua")
			if err := checkAppID(id); err != nil {
				return sp, fmt.Errorf("script %s: %w; name the app with %s:app=ID", src, err, src)
			}
			sp.App = id
		}
		return sp, nil
	case !errors.Is(statErr, os.ErrNotExist):
		return sp, fmt.Errorf("script %s: %w", src, statErr)
	}
	if !strings.ContainsAny(src, `/\`) {
		if a, ok := builtin.Lookup(src); ok {
			sp.Path = ""
			sp.Builtin = a.Name
			if sp.App == "" {
				sp.App = a.Name
			}
			return sp, nil
		}
	}
	if strings.HasSuffix(src, ".lua") || strings.ContainsAny(src, `/\`) {
		return sp, fmt.Errorf("script %s: no such file", src)
	}
	return sp, fmt.Errorf("script %s: no such file or built-in app (built-ins: %s)", src, builtinNames())
}

func builtinNames() string {
	var names []string
	for _, a := range builtin.List() {
		names = append(names, a.Name)
	}
	return strings.Join(names, ", ")
}

// checkAppID accepts the app ids that can travel in a SIP header inside an
// originate's {vars}: letters, digits, '_', '-' and '.'.
func checkAppID(id string) error {
	if id == "" {
		return errors.New("empty app id")
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return fmt.Errorf("app id %q: only letters, digits, '_', '-' and '.' are allowed", id)
		}
	}
	return nil
}

// appGroup is the scripts of one app id, in load order.
type appGroup struct {
	id     string
	weight int
	args   map[string]string
	specs  []Spec
}

// group gathers specs by app id in order of first appearance. Scripts of one
// app must agree on weight and args; a file may appear only once; two files
// may share an id only through an explicit :app=ID on each.
func group(specs []Spec) ([]*appGroup, error) {
	var out []*appGroup
	byID := map[string]*appGroup{}
	weightSet := map[string]bool{}
	files := map[string]string{}
	for _, sp := range specs {
		key := sp.Builtin
		if sp.Path != "" {
			abs, err := filepath.Abs(sp.Path)
			if err != nil {
				return nil, fmt.Errorf("script %s: %w", sp.Path, err)
			}
			key = abs
		} else {
			key = "builtin:" + key
		}
		if prev, ok := files[key]; ok {
			return nil, fmt.Errorf("script %s given twice (%q and %q)", displayName(sp), prev, sp.Arg)
		}
		files[key] = sp.Arg
		g := byID[sp.App]
		if g == nil {
			g = &appGroup{id: sp.App, weight: 1, args: map[string]string{}}
			byID[sp.App] = g
			out = append(out, g)
		} else if !sp.AppSet || !g.specs[0].AppSet {
			return nil, fmt.Errorf("scripts %q and %q both have app id %q: name the app of each with :app=ID (same ID to compose them)", g.specs[0].Arg, sp.Arg, sp.App)
		}
		if sp.WeightSet {
			if weightSet[g.id] && g.weight != sp.Weight {
				return nil, fmt.Errorf("app %s: weights %d and %d given", g.id, g.weight, sp.Weight)
			}
			g.weight, weightSet[g.id] = sp.Weight, true
		}
		for k, v := range sp.Args {
			if old, ok := g.args[k]; ok && old != v {
				return nil, fmt.Errorf("app %s: option %s=%q and %s=%q given", g.id, k, old, k, v)
			}
			g.args[k] = v
		}
		g.specs = append(g.specs, sp)
	}
	return out, nil
}

func displayName(sp Spec) string {
	if sp.Path != "" {
		return sp.Path
	}
	return sp.Builtin
}
