package cdr

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// sampleRow is a realistic answered call; i makes it unique.
func sampleRow(i int) Row {
	base := 1763800000.0 + float64(i)*0.02
	return Row{
		SwitchluaApp:       "toneplay",
		HangupCause:        NormalClearing,
		CallerCreate:       base + 0.000001,
		CallerAnswer:       base + 0.061234,
		CallerReqOriginate: base + 0.002345,
		CallerOriginate:    base + 0.001002,
		CallerHangup:       base + 20.880001,
		JobLaunch:          base - 0.000512,
		CalleeCreate:       base + 0.010101,
		CalleeAnswer:       base + 0.041111,
		CalleeHangup:       base + 20.890004,
		FailedCalls:        int64(i / 10),
		ActiveSessions:     int64(2 * (i % 50)),
		Erlangs:            int64(i % 50),
		Node:               "127.0.0.1:8021",
		CallUUID:           fmt.Sprintf("c0ffee00-0000-4000-8000-%012d", i),
	}
}

// awkwardRows exercise CSV quoting and unknown times.
func awkwardRows() []Row {
	return []Row{
		{SwitchluaApp: `a,b`, HangupCause: `say "hi"`, Node: "line\nbreak", CallUUID: " leading"},
		{SwitchluaApp: "", HangupCause: "USER_BUSY", JobLaunch: 1763800000.5, FailedCalls: 7, CallUUID: "x"},
		{SwitchluaApp: "ünïcode", HangupCause: "\r", CallerCreate: 1e-6, CallUUID: "y"},
	}
}

func TestWriteReadRoundTrip(t *testing.T) {
	for _, ext := range []string{".csv", ".db", ".DB", ".txt"} {
		t.Run(ext, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cdr"+ext)
			w, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			want := awkwardRows()
			for i := 0; i < 300; i++ { // more than one 64-row SQLite insert group
				want = append(want, sampleRow(i))
			}
			for _, r := range want {
				if err := w.Write(r); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if w.Rows() != int64(len(want)) {
				t.Errorf("Rows() = %d, want %d", w.Rows(), len(want))
			}
			got, err := Read(path)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("read back differs:\n got %+v\nwant %+v", got[:3], want[:3])
			}
			if err := w.Write(want[0]); !errors.Is(err, ErrClosed) {
				t.Errorf("Write after Close = %v, want ErrClosed", err)
			}
			if err := w.Close(); err != nil {
				t.Errorf("second Close = %v", err)
			}
		})
	}
}

func TestCSVHeader(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cdr.csv")
	w, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	want := "switchlua_app,hangup_cause,caller_create,caller_answer,caller_req_originate,caller_originate," +
		"caller_hangup,job_launch,callee_create,callee_answer,callee_hangup,failed_calls,active_sessions," +
		"erlangs,node,call_uuid\n"
	if string(b) != want {
		t.Fatalf("empty CSV is %q, want %q", b, want)
	}
	rows, err := Read(path)
	if err != nil || len(rows) != 0 {
		t.Fatalf("Read(header only) = %v, %v", rows, err)
	}
}

func TestConcurrentWriters(t *testing.T) {
	for _, ext := range []string{".csv", ".db"} {
		t.Run(ext, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cdr"+ext)
			// small batches and a short interval so flushes race with writes
			w, err := OpenWith(path, Options{FlushInterval: 5 * time.Millisecond, BatchRows: 16})
			if err != nil {
				t.Fatal(err)
			}
			const nodes, perNode = 4, 250
			var wg sync.WaitGroup
			for n := 0; n < nodes; n++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < perNode; i++ {
						r := sampleRow(n*perNode + i)
						r.Node = fmt.Sprintf("node%d", n)
						if err := w.Write(r); err != nil {
							t.Error(err)
							return
						}
						if i%100 == 0 {
							if err := w.Flush(); err != nil {
								t.Error(err)
							}
						}
					}
				}()
			}
			wg.Wait()
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			got, err := Read(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != nodes*perNode {
				t.Fatalf("%d rows, want %d", len(got), nodes*perNode)
			}
			// each node's rows keep their order; no row lost or doubled
			last := map[string]string{}
			seen := map[string]bool{}
			for _, r := range got {
				if seen[r.CallUUID] {
					t.Fatalf("row %s twice", r.CallUUID)
				}
				seen[r.CallUUID] = true
				if r.CallUUID <= last[r.Node] {
					t.Fatalf("node %s: %s after %s", r.Node, r.CallUUID, last[r.Node])
				}
				last[r.Node] = r.CallUUID
			}
		})
	}
}

// TestFlushedWithinASecond checks that rows reach the file without Close
// (a killed run loses at most the last second).
func TestFlushedWithinASecond(t *testing.T) {
	for _, ext := range []string{".csv", ".db"} {
		t.Run(ext, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cdr"+ext)
			w, err := Open(path) // default interval: 1 s
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			for i := 0; i < 3; i++ {
				if err := w.Write(sampleRow(i)); err != nil {
					t.Fatal(err)
				}
			}
			deadline := time.Now().Add(5 * time.Second) // generous: the machine is shared
			for {
				rows, err := Read(path)
				if err == nil && len(rows) == 3 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("rows not in the file after 5 s: %d rows, err %v", len(rows), err)
				}
				time.Sleep(50 * time.Millisecond)
			}
			if w.Rows() != 3 {
				t.Errorf("Rows() = %d", w.Rows())
			}
		})
	}
}

func TestAppendAndReplace(t *testing.T) {
	for _, ext := range []string{".csv", ".db"} {
		t.Run(ext, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cdr"+ext)
			write := func(opt Options, rows ...Row) {
				t.Helper()
				w, err := OpenWith(path, opt)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range rows {
					if err := w.Write(r); err != nil {
						t.Fatal(err)
					}
				}
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
			}
			count := func() int {
				t.Helper()
				rows, err := Read(path)
				if err != nil {
					t.Fatal(err)
				}
				return len(rows)
			}
			write(Options{}, sampleRow(1), sampleRow(2))
			write(Options{Append: true}, sampleRow(3))
			if n := count(); n != 3 {
				t.Fatalf("after append: %d rows, want 3", n)
			}
			write(Options{}, sampleRow(4))
			if n := count(); n != 1 {
				t.Fatalf("after replace: %d rows, want 1", n)
			}
		})
	}
}

// failingSink fails every batch after the first ok ones.
type failingSink struct {
	ok     atomic.Int32
	closed atomic.Bool
}

func (s *failingSink) writeBatch(chunks [][]Row) error {
	if s.ok.Add(-1) >= 0 {
		return nil
	}
	return errors.New("disk full")
}
func (s *failingSink) close() error { s.closed.Store(true); return nil }

func TestWriteErrorIsReported(t *testing.T) {
	sink := &failingSink{}
	sink.ok.Store(1)
	var reported []error
	var mu sync.Mutex
	w := newWriter("mem.csv", sink, Options{FlushInterval: time.Hour, OnError: func(err error) {
		mu.Lock()
		reported = append(reported, err)
		mu.Unlock()
	}})
	if err := w.Write(sampleRow(1)); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatalf("first flush: %v", err)
	}
	if err := w.Write(sampleRow(2)); err != nil {
		t.Fatal(err)
	}
	err := w.Flush()
	if err == nil || !strings.Contains(err.Error(), "disk full") || !strings.Contains(err.Error(), "mem.csv") {
		t.Fatalf("second flush = %v, want the disk error naming the file", err)
	}
	if err := w.Write(sampleRow(3)); err == nil || !strings.Contains(err.Error(), "not stored") {
		t.Fatalf("Write after a failure = %v, want an error saying the row is not stored", err)
	}
	if err := w.Close(); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Close = %v, want the disk error", err)
	}
	if !sink.closed.Load() {
		t.Error("sink not closed")
	}
	if w.Rows() != 1 {
		t.Errorf("Rows() = %d, want 1", w.Rows())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reported) != 1 {
		t.Fatalf("OnError called %d times, want 1", len(reported))
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, path string
	}{
		{"csv in missing dir", filepath.Join(dir, "nope", "cdr.csv")},
		{"db in missing dir", filepath.Join(dir, "nope", "cdr.db")},
		{"csv is a directory", dir},
	}
	if _, err := os.Stat("/dev/full"); err == nil {
		tests = append(tests, struct{ name, path string }{"csv on a full disk", "/dev/full"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := Open(tt.path)
			if err == nil {
				w.Close()
				t.Fatalf("Open(%s) succeeded", tt.path)
			}
			if !strings.HasPrefix(err.Error(), "cdr: ") {
				t.Errorf("error %q does not say where it comes from", err)
			}
		})
	}
}

func TestReadCSVVariants(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []Row
		wantErr string
	}{
		{
			name: "switchio csv with pandas index and NaN",
			in: ",switchio_app,hangup_cause,caller_create,caller_answer,callee_create,failed_calls,erlangs\n" +
				"0,Bert,NORMAL_CLEARING,1463601000.25,1463601000.5,nan,0,4.0\n" +
				"1,Bert,USER_BUSY,1463601000.3,,,1,None\n",
			want: []Row{
				{SwitchluaApp: "Bert", HangupCause: NormalClearing, CallerCreate: 1463601000.25, CallerAnswer: 1463601000.5, Erlangs: 4},
				{SwitchluaApp: "Bert", HangupCause: "USER_BUSY", CallerCreate: 1463601000.3, FailedCalls: 1},
			},
		},
		{
			name: "columns in another order, short record",
			in:   "call_uuid,node,switchlua_app\nu1,n1,app\nu2\n",
			want: []Row{{CallUUID: "u1", Node: "n1", SwitchluaApp: "app"}, {CallUUID: "u2"}},
		},
		{name: "empty file", in: "", want: nil},
		{name: "not a CDR", in: "a,b,c\n1,2,3\n", wantErr: "no CDR columns"},
		{name: "bad time", in: "caller_create\nyesterday\n", wantErr: "line 2, column caller_create"},
		{name: "bad count", in: "erlangs\nmany\n", wantErr: "bad count"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadCSV(strings.NewReader(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestReadErrors(t *testing.T) {
	dir := t.TempDir()
	noTable := filepath.Join(dir, "other.db")
	db, err := openSQLite(noTable)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE TABLE x (a)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	for _, tt := range []struct{ name, path, want string }{
		{"missing file", filepath.Join(dir, "missing.csv"), "no such file"},
		{"missing db is not created", filepath.Join(dir, "missing.db"), "no such file"},
		{"db without cdr table", noTable, `without a "cdr" table`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Read(tt.path)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Read = %v, want %q", err, tt.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "missing.db")); err == nil {
		t.Error("Read created missing.db")
	}
}

func TestSecondsAndTime(t *testing.T) {
	if Seconds(time.Time{}) != 0 || !Time(0).IsZero() {
		t.Fatal("zero time is not 0")
	}
	ts := time.UnixMicro(1763800123456789)
	s := Seconds(ts)
	if got := Time(s); !got.Equal(ts) {
		t.Fatalf("Time(Seconds(%v)) = %v", ts, got)
	}
	// the CSV text of a time reads back to the same float
	b := appendTime(nil, s)
	f, err := parseTime(string(b))
	if err != nil || f != s {
		t.Fatalf("%s reads back as %v, %v", b, f, err)
	}
}
