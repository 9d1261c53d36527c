package hotreload

import (
	"bytes"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/ast"
	"github.com/yuin/gopher-lua/parse"
)

// SyntaxError is a Lua file that failed to parse or compile. Its Error text is
// one line, `path:line: message`, in the style of the reference Lua
// interpreter, whatever gopher-lua's own format was.
type SyntaxError struct {
	Path    string // the file, as given to Compile
	Line    int    // 1-based line of the error
	Message string // e.g. "syntax error near 'end'" or "unterminated string near 'abc'"
	// AtEOF reports that the parser ran off the end of the file (an
	// unfinished function, string or comment): the signature of a file that
	// is still being written.
	AtEOF bool
}

// Error returns `path:line: message`.
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Message)
}

// Compile parses and compiles src, the content of the Lua file at path, into
// a function prototype that any number of Lua states can instantiate with
// lua.NewFunctionFromProto (a prototype is never modified after compiling).
// path is the chunk name, so runtime errors read `path:line: ...`.
//
// A syntax error is returned as a *SyntaxError. An empty src is a valid
// (empty) chunk, as in Lua; deciding whether an empty file is finished is the
// Watcher's job, not Compile's.
func Compile(path string, src []byte) (*lua.FunctionProto, error) {
	proto, _, err := compile(path, src)
	return proto, err
}

// compile parses once and returns the prototype and the modules the chunk
// requires with string literals.
func compile(path string, src []byte) (proto *lua.FunctionProto, requires []string, err error) {
	defer func() {
		// gopher-lua turns its own errors into return values but lets
		// anything else (a bug on odd input) panic: never take the
		// watcher down with it.
		if r := recover(); r != nil {
			proto, requires = nil, nil
			err = &SyntaxError{Path: path, Line: lastLine(src), Message: fmt.Sprintf("internal compiler error: %v", r)}
		}
	}()
	chunk, err := parse.Parse(bytes.NewReader(src), path)
	if err != nil {
		return nil, nil, syntaxError(path, src, err)
	}
	proto, err = lua.Compile(chunk, path)
	if err != nil {
		return nil, nil, syntaxError(path, src, err)
	}
	return proto, Requires(chunk), nil
}

// syntaxError normalises gopher-lua's parse and compile error formats
// ("f.lua line:3(column:5) near 'end':   syntax error\n", "f.lua at EOF:
// syntax error\n", "compile error near line(2) f.lua: ...") to one
// *SyntaxError.
func syntaxError(path string, src []byte, err error) *SyntaxError {
	switch e := err.(type) {
	case *parse.Error:
		msg := oneLine(e.Message)
		if e.Pos.Line == parse.EOF {
			return &SyntaxError{Path: path, Line: lastLine(src), Message: msg + " near <eof>", AtEOF: true}
		}
		if tok := shortToken(e.Token); tok != "" {
			msg += " near '" + tok + "'"
		}
		return &SyntaxError{Path: path, Line: max(e.Pos.Line, 1), Message: msg}
	case *lua.CompileError:
		return &SyntaxError{Path: path, Line: max(e.Line, 1), Message: oneLine(e.Message)}
	}
	return &SyntaxError{Path: path, Line: lastLine(src), Message: oneLine(err.Error())}
}

// oneLine collapses whitespace runs, newlines included.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// shortToken is the token an error is "near", on one line and shortened (an
// unterminated string may have swallowed the rest of the file).
func shortToken(s string) string {
	s = oneLine(s)
	if r := []rune(s); len(r) > 40 {
		s = string(r[:37]) + "..."
	}
	return s
}

// lastLine is the 1-based line of the last non-blank character of src: where
// a reader looks for an unfinished construct.
func lastLine(src []byte) int {
	src = bytes.TrimRight(src, " \t\r\n\f\v")
	return bytes.Count(src, []byte{'\n'}) + 1
}

// Requires returns the module names a parsed chunk loads with a string
// literal: `require("name")`, `require "name"`, `require 'name'` and
// `require [[name]]`, anywhere in the chunk (inside functions too), sorted
// and without duplicates. Computed names (`require(prefix .. "x")`) cannot be
// known statically and are not listed.
func Requires(chunk []ast.Stmt) []string {
	seen := map[string]bool{}
	var w reqWalker
	w.found = func(name string) { seen[name] = true }
	w.stmts(chunk)
	if len(seen) == 0 {
		return nil
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

type reqWalker struct{ found func(string) }

func (w *reqWalker) stmts(list []ast.Stmt) {
	for _, s := range list {
		w.stmt(s)
	}
}

func (w *reqWalker) exprs(list []ast.Expr) {
	for _, e := range list {
		w.expr(e)
	}
}

func (w *reqWalker) stmt(s ast.Stmt) {
	switch s := s.(type) {
	case *ast.AssignStmt:
		w.exprs(s.Lhs)
		w.exprs(s.Rhs)
	case *ast.LocalAssignStmt:
		w.exprs(s.Exprs)
	case *ast.FuncCallStmt:
		w.expr(s.Expr)
	case *ast.DoBlockStmt:
		w.stmts(s.Stmts)
	case *ast.WhileStmt:
		w.expr(s.Condition)
		w.stmts(s.Stmts)
	case *ast.RepeatStmt:
		w.stmts(s.Stmts)
		w.expr(s.Condition)
	case *ast.IfStmt:
		w.expr(s.Condition)
		w.stmts(s.Then)
		w.stmts(s.Else)
	case *ast.NumberForStmt:
		w.expr(s.Init)
		w.expr(s.Limit)
		w.expr(s.Step)
		w.stmts(s.Stmts)
	case *ast.GenericForStmt:
		w.exprs(s.Exprs)
		w.stmts(s.Stmts)
	case *ast.FuncDefStmt:
		if s.Name != nil {
			w.expr(s.Name.Func)
			w.expr(s.Name.Receiver)
		}
		if s.Func != nil {
			w.expr(s.Func)
		}
	case *ast.ReturnStmt:
		w.exprs(s.Exprs)
	}
}

func (w *reqWalker) expr(e ast.Expr) {
	switch e := e.(type) {
	case nil:
	case *ast.FuncCallExpr:
		if id, ok := e.Func.(*ast.IdentExpr); ok && id.Value == "require" && e.Receiver == nil && len(e.Args) >= 1 {
			if s, ok := e.Args[0].(*ast.StringExpr); ok {
				w.found(s.Value)
			}
		}
		w.expr(e.Func)
		w.expr(e.Receiver)
		w.exprs(e.Args)
	case *ast.AttrGetExpr:
		w.expr(e.Object)
		w.expr(e.Key)
	case *ast.TableExpr:
		for _, f := range e.Fields {
			if f != nil {
				w.expr(f.Key)
				w.expr(f.Value)
			}
		}
	case *ast.LogicalOpExpr:
		w.expr(e.Lhs)
		w.expr(e.Rhs)
	case *ast.RelationalOpExpr:
		w.expr(e.Lhs)
		w.expr(e.Rhs)
	case *ast.StringConcatOpExpr:
		w.expr(e.Lhs)
		w.expr(e.Rhs)
	case *ast.ArithmeticOpExpr:
		w.expr(e.Lhs)
		w.expr(e.Rhs)
	case *ast.UnaryMinusOpExpr:
		w.expr(e.Expr)
	case *ast.UnaryNotOpExpr:
		w.expr(e.Expr)
	case *ast.UnaryLenOpExpr:
		w.expr(e.Expr)
	case *ast.FunctionExpr:
		w.stmts(e.Stmts)
	}
}

// ModuleFile maps a module name to its file path relative to a scripts
// folder, as Lua's package.path template `?.lua` does: "lib.util" ->
// "lib/util.lua". Names that could escape the folder (empty segments, path
// separators, NUL) are refused.
func ModuleFile(name string) (string, bool) {
	if name == "" {
		return "", false
	}
	segs := strings.Split(name, ".")
	for _, s := range segs {
		if s == "" || strings.ContainsAny(s, `/\`) || strings.ContainsRune(s, 0) {
			return "", false
		}
	}
	return filepath.Join(segs...) + ".lua", true
}

// moduleName is the inverse of moduleFile: "lib/util.lua" -> "lib.util".
func moduleName(rel string) string {
	rel = strings.TrimSuffix(filepath.ToSlash(rel), ".lua")
	return strings.ReplaceAll(rel, "/", ".")
}
