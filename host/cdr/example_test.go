package cdr_test

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/switchlua/switchlua/host/cdr"
)

// A run writes one row per call as it ends and feeds the Summary; at the end
// it closes the writer and prints the report.
func Example() {
	dir, _ := os.MkdirTemp("", "cdr")
	defer os.RemoveAll(dir)
	w, err := cdr.Open(filepath.Join(dir, "run.csv")) // or run.db for SQLite
	if err != nil {
		fmt.Println(err)
		return
	}
	start := time.Unix(1763800000, 0)
	sum := cdr.NewSummaryAt(start)

	for i := 0; i < 3; i++ { // the Originator, per call
		offered := start.Add(time.Duration(i) * 100 * time.Millisecond)
		sum.Offered(offered)
		// ... when the call's last leg is destroyed:
		row := cdr.Row{
			SwitchluaApp: "toneplay", HangupCause: cdr.NormalClearing,
			JobLaunch:    cdr.Seconds(offered),
			CallerCreate: cdr.Seconds(offered.Add(2 * time.Millisecond)),
			CallerAnswer: cdr.Seconds(offered.Add(62 * time.Millisecond)),
			CallerHangup: cdr.Seconds(offered.Add(10 * time.Second)),
			Erlangs:      int64(i + 1), Node: "127.0.0.1:8021", CallUUID: fmt.Sprint("call-", i),
		}
		if err := w.Write(row); err != nil {
			fmt.Println(err) // the file is failing: say so
		}
		sum.CallEnded(row)
	}

	if err := w.Close(); err != nil {
		fmt.Println(err)
	}
	sum.SetCDRRows(w.Rows())
	sum.Stop(start.Add(10 * time.Second))
	rep := sum.Report()
	rep.WriteTable(os.Stdout)
	// Output:
	// offered           3
	// answered          3  (100.0%)
	// failed            0  (0.0%)
	// achieved cps      10.0
	// peak concurrent   3
	// setup latency ms  p50 60.0  p95 60.0  p99 60.0
	// cdr rows          3
	// script errors     0
	// reloads           0
	// duration s        10.0
}
