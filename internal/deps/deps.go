// Package deps pins the project's third-party modules in go.mod while the
// packages that use them are being written. It is removed once every module
// is imported for real.
package deps

import (
	_ "github.com/fsnotify/fsnotify"
	_ "github.com/percipia/eslgo"
	_ "github.com/percipia/eslgo/command"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/urfave/cli/v2"
	_ "github.com/yuin/gopher-lua"
	_ "gonum.org/v1/plot"
	_ "layeh.com/gopher-luar"
	_ "modernc.org/sqlite"
)
