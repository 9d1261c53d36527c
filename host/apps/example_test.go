package apps_test

import (
	"context"
	"log"
	"log/slog"
	"os"

	"github.com/switchlua/switchlua/host"
	"github.com/switchlua/switchlua/host/apps"
)

// How a command wires the apps: parse the --script arguments, compile and
// watch them, give the Listeners the Manager's require, load the apps on
// every node, and count reloads for the metrics.
func Example() {
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))

	specs, err := apps.ParseSpecs([]string{"scripts/ivr.lua:weight=3:greeting=hello", "toneplay"})
	if err != nil {
		log.Fatal(err) // e.g. "script scripts/ivr.lua: no such file"
	}
	m, err := apps.New(specs, apps.Options{
		Logger: logger,
		// NoReload: true for --no-reload.
		OnReload: func(r apps.Reload) {
			// metrics.Reloaded(r.OK); if r.OK { summary.Reloaded() }
		},
	})
	if err != nil {
		log.Fatal(err) // e.g. "scripts/ivr.lua:12: syntax error near 'end'"
	}
	defer m.Close()

	cfg := host.Config{Logger: logger}
	m.Configure(&cfg)               // require() from the scripts' folders, through the watcher
	cfg.DefaultApp = m.DefaultApp() // serve: inbound calls without an app header
	pool, err := host.DialPool(ctx, []string{"127.0.0.1:8021"}, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	if err := m.Load(ctx, pool); err != nil {
		log.Fatal(err) // an app's top level raised: "scripts/ivr.lua:3: ..."
	}
	for _, a := range m.Apps() {
		logger.Info("app", "id", a.ID, "weight", a.Weight) // the Originator's mix
	}
	// Saves now reload the apps on every node until m.Close.
}
