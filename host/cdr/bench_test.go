package cdr

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// BenchmarkWriters writes 200k rows through each writer and reports the
// caller-side cost of Write (steady state), the rows/s of a burst to disk
// (Close included), and both writers' speed against encoding/csv writing the
// same rows to a buffered file in the same run.
func BenchmarkWriters(b *testing.B) {
	const n = 200_000
	rows := make([]Row, 1000)
	for i := range rows {
		rows[i] = sampleRow(i)
	}
	dir := b.TempDir()

	baseline := func() float64 { // encoding/csv, strconv, bufio: rows/s
		f, err := os.Create(filepath.Join(dir, "baseline.csv"))
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		bw := bufio.NewWriterSize(f, 64<<10)
		cw := csv.NewWriter(bw)
		rec := make([]string, len(Columns))
		cw.Write(Columns)
		for i := 0; i < n; i++ {
			r := &rows[i%len(rows)]
			rec[0], rec[1] = r.SwitchluaApp, r.HangupCause
			for j, v := range []float64{r.CallerCreate, r.CallerAnswer, r.CallerReqOriginate, r.CallerOriginate,
				r.CallerHangup, r.JobLaunch, r.CalleeCreate, r.CalleeAnswer, r.CalleeHangup} {
				rec[2+j] = strconv.FormatFloat(v, 'f', -1, 64)
			}
			rec[11], rec[12], rec[13] = strconv.FormatInt(r.FailedCalls, 10),
				strconv.FormatInt(r.ActiveSessions, 10), strconv.FormatInt(r.Erlangs, 10)
			rec[14], rec[15] = r.Node, r.CallUUID
			cw.Write(rec)
		}
		cw.Flush()
		bw.Flush()
		f.Close()
		return n / time.Since(start).Seconds()
	}
	ours := func(name string) (writeNS, rowsPerS float64) {
		// steady state, as in a run: the caller's cost of Write between
		// flushes of 1000 rows
		w, err := Open(filepath.Join(dir, "steady-"+name))
		if err != nil {
			b.Fatal(err)
		}
		var inWrite time.Duration
		for i := 0; i < n; i += 1000 {
			start := time.Now()
			for j := 0; j < 1000; j++ {
				w.Write(rows[j])
			}
			inWrite += time.Since(start)
			w.Flush()
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		writeNS = float64(inWrite.Nanoseconds()) / n

		// a burst: n rows as fast as possible, Close included
		w, err = Open(filepath.Join(dir, name))
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		for i := 0; i < n; i++ {
			if err := w.Write(rows[i%len(rows)]); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		if w.Rows() != n {
			b.Fatalf("%d rows written", w.Rows())
		}
		return writeNS, n / time.Since(start).Seconds()
	}
	var base, csvNS, csvRate, dbNS, dbRate float64
	for b.Loop() {
		base = baseline()
		csvNS, csvRate = ours("cdr.csv")
		dbNS, dbRate = ours("cdr.db")
	}
	fmt.Printf("bench: cdr_csv_write_ns %.0f ns\n", csvNS)
	fmt.Printf("bench: cdr_csv_rows_per_s %.0f rows/s\n", csvRate)
	fmt.Printf("bench: cdr_csv_vs_encoding_csv %.2f x\n", csvRate/base)
	fmt.Printf("bench: cdr_sqlite_write_ns %.0f ns\n", dbNS)
	fmt.Printf("bench: cdr_sqlite_rows_per_s %.0f rows/s\n", dbRate)
	fmt.Printf("bench: cdr_sqlite_vs_encoding_csv %.2f x\n", dbRate/base)
}

// BenchmarkSummaryCallEnded measures the per-call cost of Summary.CallEnded.
func BenchmarkSummaryCallEnded(b *testing.B) {
	const n = 1_000_000
	s := NewSummary()
	r := sampleRow(1)
	var ns, report float64
	for b.Loop() {
		start := time.Now()
		for i := 0; i < n; i++ {
			s.CallEnded(r)
		}
		ns = float64(time.Since(start).Nanoseconds()) / n
		start = time.Now()
		s.Report()
		report = float64(time.Since(start).Milliseconds())
	}
	fmt.Printf("bench: cdr_summary_call_ended_ns %.0f ns\n", ns)
	fmt.Printf("bench: cdr_summary_report_1m_calls_ms %.0f ms\n", report)
}
