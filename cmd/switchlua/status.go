package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// progress is the live view of a run or a service.
type progress struct {
	Active   int64 // calls in progress
	Offered  int64 // originates sent (0 for serve)
	Answered int64
	Failed   int64
	Ended    int64 // calls ended (serve)
}

// statusReporter shows progress: on a terminal a status line redrawn in
// place a few times a second, otherwise a log line every interval.
type statusReporter struct {
	con      *console
	log      *slog.Logger
	tty      bool
	interval time.Duration // log line period when not on a terminal
	get      func() progress
	serve    bool // label as a service (calls ended, no offers)

	// cps over a sliding window of samples
	samples []sample
}

type sample struct {
	at time.Time
	n  int64
}

// rate returns the offered (or ended, for serve) calls per second over the
// last window of samples.
func (s *statusReporter) rate(now time.Time, n int64, window time.Duration) float64 {
	s.samples = append(s.samples, sample{now, n})
	// Keep the newest sample at least window old, and the ones after it.
	i := 0
	for i+1 < len(s.samples)-1 && now.Sub(s.samples[i+1].at) >= window {
		i++
	}
	s.samples = s.samples[i:]
	first := s.samples[0]
	dt := now.Sub(first.at).Seconds()
	if dt <= 0 {
		return 0
	}
	return float64(n-first.n) / dt
}

func (s *statusReporter) line(p progress, cps float64) string {
	if s.serve {
		return fmt.Sprintf("active %d  ended %d  answered %d  failed %d  cps %.1f", p.Active, p.Ended, p.Answered, p.Failed, cps)
	}
	return fmt.Sprintf("active %d  offered %d  answered %d  failed %d  cps %.1f", p.Active, p.Offered, p.Answered, p.Failed, cps)
}

// run reports until ctx ends; the status line is removed then.
func (s *statusReporter) run(ctx context.Context) {
	period := s.interval
	window := s.interval
	if s.tty {
		period = 250 * time.Millisecond
		window = 2 * time.Second
	}
	tk := time.NewTicker(period)
	defer tk.Stop()
	count := func(p progress) int64 {
		if s.serve {
			return p.Ended
		}
		return p.Offered
	}
	s.rate(time.Now(), count(s.get()), window)
	for {
		select {
		case <-ctx.Done():
			if s.tty {
				s.con.SetStatus("")
			}
			return
		case now := <-tk.C:
			p := s.get()
			cps := s.rate(now, count(p), window)
			if s.tty {
				s.con.SetStatus(s.line(p, cps))
				continue
			}
			attrs := []any{"active", p.Active}
			if !s.serve {
				attrs = append(attrs, "offered", p.Offered)
			} else {
				attrs = append(attrs, "ended", p.Ended)
			}
			attrs = append(attrs, "answered", p.Answered, "failed", p.Failed, "cps", fmt.Sprintf("%.1f", cps))
			s.log.Info("progress", attrs...)
		}
	}
}

// statusInterval is the period of the progress log line when stderr is not
// a terminal.
const statusInterval = 5 * time.Second
