// Package builtin embeds switchlua's built-in Lua apps (scripts/builtin/*.lua):
// TonePlay, Proxier, PlayRec, DtmfChecker and Router. Each file starts with a
// doc comment (its leading `--` lines) that `switchlua list-apps` prints.
package builtin

import (
	"embed"
	"path"
	"sort"
	"strings"
)

//go:embed *.lua
var files embed.FS

// App is one built-in app.
type App struct {
	Name   string // file name without .lua, e.g. "toneplay"
	File   string // e.g. "toneplay.lua"
	Doc    string // the leading comment, without the "--" markers
	Source string // the whole Lua source
}

// Path is the chunk name to compile the app under, so errors read
// "builtin/toneplay.lua:12: ...".
func (a App) Path() string { return "builtin/" + a.File }

// Summary is the first line of the doc comment.
func (a App) Summary() string {
	first, _, _ := strings.Cut(a.Doc, "\n")
	return first
}

var apps = func() []App {
	ents, err := files.ReadDir(".")
	if err != nil {
		panic(err)
	}
	out := make([]App, 0, len(ents))
	for _, e := range ents {
		b, err := files.ReadFile(e.Name())
		if err != nil {
			panic(err)
		}
		src := string(b)
		out = append(out, App{
			Name:   strings.TrimSuffix(e.Name(), path.Ext(e.Name())),
			File:   e.Name(),
			Doc:    DocComment(src),
			Source: src,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}()

// List returns the built-in apps sorted by name.
func List() []App { return append([]App(nil), apps...) }

// Lookup finds an app by name ("toneplay", "TonePlay" or "toneplay.lua").
func Lookup(name string) (App, bool) {
	n := strings.ToLower(strings.TrimSuffix(name, ".lua"))
	for _, a := range apps {
		if a.Name == n {
			return a, true
		}
	}
	return App{}, false
}

// DocComment returns the leading comment block of a Lua source: the "--"
// lines before the first other line, markers and one following space
// removed, trailing blank lines dropped.
func DocComment(src string) string {
	var lines []string
	for _, ln := range strings.Split(src, "\n") {
		ln = strings.TrimRight(ln, "\r")
		t := strings.TrimSpace(ln)
		if !strings.HasPrefix(t, "--") || strings.HasPrefix(t, "--[[") {
			break
		}
		t = strings.TrimPrefix(t, "--")
		t = strings.TrimPrefix(t, " ")
		lines = append(lines, t)
	}
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	return strings.Join(lines, "\n")
}
