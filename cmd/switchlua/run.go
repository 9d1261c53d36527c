package main

import (
	"github.com/urfave/cli/v2"
)

func runCommand() *cli.Command {
	return &cli.Command{
		Name:  "run",
		Usage: "originate calls, run scripts on them, and report",
		Flags: append(hostFlags(), logFlags()...),
		Action: func(c *cli.Context) error {
			return usageErr("run: not wired yet")
		},
	}
}

