package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/switchlua/switchlua/bindings"
	"github.com/switchlua/switchlua/host/cdr/plot"
	"github.com/switchlua/switchlua/hotreload"
	"github.com/switchlua/switchlua/scripts/builtin"
)

func listAppsCommand() *cli.Command {
	return &cli.Command{
		Name:  "list-apps",
		Usage: "list the built-in apps with their doc comments",
		Description: "A built-in app is used by name: switchlua run --script toneplay.\n" +
			"--short prints one line per app.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "short", Aliases: []string{"s"}, Usage: "one line per app: name and summary"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageErr("list-apps takes no arguments")
			}
			w := c.App.Writer
			apps := builtin.List()
			width := 0
			for _, a := range apps {
				width = max(width, len(a.Name))
			}
			for i, a := range apps {
				if c.Bool("short") {
					fmt.Fprintf(w, "%-*s  %s\n", width, a.Name, firstSentence(a.Doc))
					continue
				}
				if i > 0 {
					fmt.Fprintln(w)
				}
				fmt.Fprintln(w, a.Name)
				for _, ln := range strings.Split(a.Doc, "\n") {
					if ln == "" {
						fmt.Fprintln(w)
						continue
					}
					fmt.Fprintln(w, "    "+ln)
				}
			}
			return nil
		},
	}
}

func checkCommand() *cli.Command {
	return &cli.Command{
		Name:      "check",
		Usage:     "compile and lint Lua scripts",
		ArgsUsage: "FILE|DIR|BUILTIN...",
		Description: "Compiles each script and looks for on_* globals that no event calls (likely\n" +
			"typos, e.g. on_answered for on_answer). Prints one `file:line: message` line per\n" +
			"problem and exits with status 1 if there is any. A directory is checked for\n" +
			"its *.lua files; a built-in app name checks the built-in.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only problems"},
		},
		Action: checkAction,
	}
}

func checkAction(c *cli.Context) error {
	if c.NArg() == 0 {
		return usageErr("check: no file given (usage: switchlua check FILE...)")
	}
	w := c.App.Writer
	problems, files := 0, 0
	for _, arg := range c.Args().Slice() {
		paths, err := checkTargets(arg)
		if err != nil { // a script named that cannot be read
			fmt.Fprintln(w, err)
			files++
			problems++
			continue
		}
		for _, t := range paths {
			files++
			msgs := checkSource(t.path, t.src)
			for _, m := range msgs {
				fmt.Fprintln(w, m)
			}
			problems += len(msgs)
			if len(msgs) == 0 && !c.Bool("quiet") {
				fmt.Fprintf(w, "%s: ok\n", t.path)
			}
		}
	}
	if problems > 0 {
		return withCode(exitError, fmt.Errorf("check: %d problem(s) in %d script(s)", problems, files))
	}
	return nil
}

type checkTarget struct {
	path string
	src  []byte
}

// checkTargets resolves one argument of check: a file, a directory (its
// *.lua files, recursively) or a built-in app name.
func checkTargets(arg string) ([]checkTarget, error) {
	fi, err := os.Stat(arg)
	if err != nil {
		if a, ok := builtin.Lookup(arg); ok && errors.Is(err, fs.ErrNotExist) {
			return []checkTarget{{path: a.Path(), src: []byte(a.Source)}}, nil
		}
		return nil, fmt.Errorf("%s: %v", arg, errors.Unwrap(err))
	}
	if !fi.IsDir() {
		src, err := os.ReadFile(arg)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", arg, err)
		}
		return []checkTarget{{path: arg, src: src}}, nil
	}
	var out []checkTarget
	err = filepath.WalkDir(arg, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != arg && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".lua") || strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out = append(out, checkTarget{path: p, src: src})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %v", arg, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no *.lua files", arg)
	}
	return out, nil
}

// checkSource compiles and lints one script and returns its problems as
// `path:line: message` lines.
func checkSource(path string, src []byte) []string {
	proto, err := hotreload.Compile(path, src)
	if err != nil {
		return []string{oneLine(err.Error())}
	}
	var out []string
	for _, l := range bindings.LintCallbacks(bindings.Script{Path: path, Proto: proto}) {
		out = append(out, l.String())
	}
	return out
}

func plotCommand() *cli.Command {
	return &cli.Command{
		Name:      "plot",
		Usage:     "draw a CDR file (CSV or SQLite) as switchio's three panels to PNG",
		ArgsUsage: "FILE",
		Description: "Panels: latencies (setup, answer, invite, originate); active sessions, erlangs\n" +
			"and failed calls; call rate and its rolling mean. The x axis is the call index.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "PNG file to write (default: FILE with .png)"},
			&cli.StringFlag{Name: "title", Usage: "title above the panels (default: the file name)"},
			&cli.IntFlag{Name: "width", Value: 1600, Usage: "image width in pixels"},
			&cli.IntFlag{Name: "height", Value: 1200, Usage: "image height in pixels"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageErr("plot: want one CDR file (usage: switchlua plot FILE -o out.png)")
			}
			in := c.Args().First()
			out := c.String("output")
			if out == "" {
				out = strings.TrimSuffix(in, filepath.Ext(in)) + ".png"
			}
			if c.Int("width") < 100 || c.Int("height") < 100 {
				return usageErr("plot: --width and --height must be at least 100")
			}
			title := c.String("title")
			if title == "" {
				title = filepath.Base(in)
			}
			if _, err := os.Stat(in); err != nil {
				return fmt.Errorf("plot: %s: %v", in, errors.Unwrap(err))
			}
			err := plot.File(in, out, plot.Options{Width: c.Int("width"), Height: c.Int("height"), Title: title})
			if err != nil {
				return fmt.Errorf("plot %s: %v", in, err)
			}
			fmt.Fprintf(c.App.Writer, "wrote %s\n", out)
			return nil
		},
	}
}

// firstSentence returns the first sentence of a doc comment's first
// paragraph, on one line.
func firstSentence(doc string) string {
	para, _, _ := strings.Cut(strings.TrimSpace(doc), "\n\n")
	s := strings.Join(strings.Fields(para), " ")
	if i := strings.Index(s, ". "); i >= 0 {
		s = s[:i+1]
	}
	return s
}
