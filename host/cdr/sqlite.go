package cdr

import (
	"database/sql"
	"fmt"
	"strings"

	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver
)

// Table is the name of the SQLite table that holds the rows.
const Table = "cdr"

// sqlColumnTypes are the SQL types of Columns, in order.
var sqlColumnTypes = []string{
	"TEXT", "TEXT",
	"REAL", "REAL", "REAL", "REAL", "REAL", "REAL", "REAL", "REAL", "REAL",
	"INTEGER", "INTEGER", "INTEGER",
	"TEXT", "TEXT",
}

// sqliteRowsPerInsert is how many rows one INSERT statement carries
// (16 columns each: well under SQLite's 32766 bound variables).
const sqliteRowsPerInsert = 64

type sqliteSink struct {
	db    *sql.DB
	multi *sql.Stmt // INSERT of sqliteRowsPerInsert rows
	one   *sql.Stmt // INSERT of one row
	args  []any
}

func openSQLite(path string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", path)
	if err != nil {
		return nil, fmt.Errorf("cdr: opening %s: %w", path, err)
	}
	// One connection: SQLite has one writer anyway, and PRAGMAs stick.
	db.SetMaxOpenConns(1)
	if _, err := db.Exec("PRAGMA busy_timeout = 5000"); err != nil {
		db.Close()
		return nil, fmt.Errorf("cdr: opening %s: %w", path, err)
	}
	return db, nil
}

func openSQLiteSink(path string, appendTo bool) (*sqliteSink, error) {
	db, err := openSQLite(path)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*sqliteSink, error) {
		db.Close()
		return nil, fmt.Errorf("cdr: preparing %s: %w", path, err)
	}
	var ddl strings.Builder
	if !appendTo {
		ddl.WriteString("DROP TABLE IF EXISTS " + Table + ";\n")
	}
	ddl.WriteString("CREATE TABLE IF NOT EXISTS " + Table + " (")
	for i, c := range Columns {
		if i > 0 {
			ddl.WriteString(", ")
		}
		ddl.WriteString(c + " " + sqlColumnTypes[i])
	}
	ddl.WriteString(")")
	if _, err := db.Exec(ddl.String()); err != nil {
		return fail(err)
	}
	s := &sqliteSink{db: db, args: make([]any, 0, len(Columns)*sqliteRowsPerInsert)}
	if s.multi, err = db.Prepare(insertSQL(sqliteRowsPerInsert)); err != nil {
		return fail(err)
	}
	if s.one, err = db.Prepare(insertSQL(1)); err != nil {
		return fail(err)
	}
	return s, nil
}

func insertSQL(rows int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO " + Table + " (" + strings.Join(Columns, ", ") + ") VALUES ")
	group := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(Columns)), ", ") + ")"
	for i := 0; i < rows; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(group)
	}
	return b.String()
}

func appendArgs(args []any, r *Row) []any {
	return append(args, r.SwitchluaApp, r.HangupCause,
		r.CallerCreate, r.CallerAnswer, r.CallerReqOriginate, r.CallerOriginate, r.CallerHangup,
		r.JobLaunch, r.CalleeCreate, r.CalleeAnswer, r.CalleeHangup,
		r.FailedCalls, r.ActiveSessions, r.Erlangs, r.Node, r.CallUUID)
}

// writeBatch inserts all rows in one transaction: full groups with the
// multi-row statement, the rest one by one.
func (s *sqliteSink) writeBatch(chunks [][]Row) error {
	tx, err := s.db.Begin()
	if err != nil {
		return err
	}
	defer clear(s.args[:cap(s.args)])
	multi, one := tx.Stmt(s.multi), tx.Stmt(s.one)
	for _, rows := range chunks {
		i := 0
		for ; i+sqliteRowsPerInsert <= len(rows); i += sqliteRowsPerInsert {
			args := s.args[:0]
			for j := i; j < i+sqliteRowsPerInsert; j++ {
				args = appendArgs(args, &rows[j])
			}
			if _, err := multi.Exec(args...); err != nil {
				tx.Rollback()
				return err
			}
		}
		for ; i < len(rows); i++ {
			if _, err := one.Exec(appendArgs(s.args[:0], &rows[i])...); err != nil {
				tx.Rollback()
				return err
			}
		}
	}
	return tx.Commit()
}

func (s *sqliteSink) close() error {
	s.multi.Close()
	s.one.Close()
	return s.db.Close()
}

// readSQLite loads the cdr table of the database at path in insertion order.
func readSQLite(path string) ([]Row, error) {
	db, err := openSQLite(path)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	var n int
	err = db.QueryRow("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", Table).Scan(&n)
	if err != nil {
		return nil, fmt.Errorf("cdr: reading %s: %w", path, err)
	}
	if n == 0 {
		return nil, fmt.Errorf("cdr: %s is an SQLite database without a %q table", path, Table)
	}
	q, err := db.Query("SELECT " + strings.Join(Columns, ", ") + " FROM " + Table + " ORDER BY rowid")
	if err != nil {
		return nil, fmt.Errorf("cdr: reading %s: %w", path, err)
	}
	defer q.Close()
	var rows []Row
	for q.Next() {
		var (
			r          Row
			app, cause sql.NullString
			node, uuid sql.NullString
			t          [9]sql.NullFloat64
			c          [3]sql.NullInt64
		)
		if err := q.Scan(&app, &cause, &t[0], &t[1], &t[2], &t[3], &t[4], &t[5], &t[6], &t[7], &t[8],
			&c[0], &c[1], &c[2], &node, &uuid); err != nil {
			return nil, fmt.Errorf("cdr: reading %s: %w", path, err)
		}
		r.SwitchluaApp, r.HangupCause, r.Node, r.CallUUID = app.String, cause.String, node.String, uuid.String
		r.CallerCreate, r.CallerAnswer, r.CallerReqOriginate = t[0].Float64, t[1].Float64, t[2].Float64
		r.CallerOriginate, r.CallerHangup, r.JobLaunch = t[3].Float64, t[4].Float64, t[5].Float64
		r.CalleeCreate, r.CalleeAnswer, r.CalleeHangup = t[6].Float64, t[7].Float64, t[8].Float64
		r.FailedCalls, r.ActiveSessions, r.Erlangs = c[0].Int64, c[1].Int64, c[2].Int64
		rows = append(rows, r)
	}
	if err := q.Err(); err != nil {
		return nil, fmt.Errorf("cdr: reading %s: %w", path, err)
	}
	return rows, nil
}
