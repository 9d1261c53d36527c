package cdr

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// sqliteMagic starts every SQLite database file.
var sqliteMagic = []byte("SQLite format 3\x00")

// Read loads all rows of a CDR file written by a Writer, in file order. An
// SQLite database is recognised by its content (or a ".db" name), anything
// else is read as CSV. A file with a header and no rows gives no rows and no
// error.
func Read(path string) ([]Row, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cdr: %w", err)
	}
	defer f.Close()
	head := make([]byte, len(sqliteMagic))
	n, _ := io.ReadFull(f, head)
	if bytes.Equal(head[:n], sqliteMagic) || (n == 0 && IsSQLitePath(path)) {
		f.Close()
		return readSQLite(path)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("cdr: %w", err)
	}
	rows, err := ReadCSV(bufio.NewReaderSize(f, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("cdr: reading %s: %w", path, err)
	}
	return rows, nil
}

// ReadCSV reads CDR rows from CSV with a header row. Columns are matched by
// name, in any order; unknown columns are ignored, missing ones stay zero,
// and switchio's "switchio_app" (or switchy's "switchy_app") column is read
// as switchlua_app. Empty, "nan" and "None" times read as 0 (unknown).
func ReadCSV(r io.Reader) ([]Row, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	index := make(map[string]int, len(Columns))
	for i, c := range Columns {
		index[c] = i
	}
	index["switchio_app"] = 0
	index["switchy_app"] = 0
	col := make([]int, len(header)) // header position -> Columns index, or -1
	known := 0
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if j, ok := index[h]; ok {
			col[i] = j
			known++
		} else {
			col[i] = -1
		}
	}
	if known == 0 {
		return nil, errors.New("no CDR columns in the header (want " + strings.Join(Columns[:3], ",") + ",...)")
	}
	var rows []Row
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return rows, nil
		}
		if err != nil {
			return nil, err
		}
		var r Row
		for i, v := range rec {
			if i >= len(col) || col[i] < 0 {
				continue
			}
			if err := r.set(col[i], v); err != nil {
				line, _ := cr.FieldPos(i)
				return nil, fmt.Errorf("line %d, column %s: %w", line, Columns[col[i]], err)
			}
		}
		rows = append(rows, r)
	}
}

// set assigns the text v to the field at Columns index i.
func (r *Row) set(i int, v string) error {
	switch i {
	case 0:
		r.SwitchluaApp = strings.Clone(v)
	case 1:
		r.HangupCause = strings.Clone(v)
	case 14:
		r.Node = strings.Clone(v)
	case 15:
		r.CallUUID = strings.Clone(v)
	case 11, 12, 13:
		n, err := parseCount(v)
		if err != nil {
			return err
		}
		*[...]*int64{&r.FailedCalls, &r.ActiveSessions, &r.Erlangs}[i-11] = n
	default:
		f, err := parseTime(v)
		if err != nil {
			return err
		}
		*[...]*float64{&r.CallerCreate, &r.CallerAnswer, &r.CallerReqOriginate, &r.CallerOriginate,
			&r.CallerHangup, &r.JobLaunch, &r.CalleeCreate, &r.CalleeAnswer, &r.CalleeHangup}[i-2] = f
	}
	return nil
}

func isUnknown(v string) bool {
	switch strings.ToLower(v) {
	case "", "nan", "none", "null":
		return true
	}
	return false
}

func parseTime(v string) (float64, error) {
	v = strings.TrimSpace(v)
	if isUnknown(v) {
		return 0, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f != f {
		return 0, fmt.Errorf("bad time %q", v)
	}
	return f, nil
}

func parseCount(v string) (int64, error) {
	v = strings.TrimSpace(v)
	if isUnknown(v) {
		return 0, nil
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return n, nil
	}
	// pandas writes integer columns with NaNs as floats ("12.0")
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f != f {
		return 0, fmt.Errorf("bad count %q", v)
	}
	return int64(f), nil
}
