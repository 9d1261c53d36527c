package fssim

import (
	"strconv"
	"strings"
	"time"
)

// task is one scheduler task (sched_api, sched_hangup).
type task struct {
	id    uint32
	group string
	timer *time.Timer
}

// parseWhen reads "+N" (N seconds from now), "@N" (every N seconds) or an
// absolute epoch second, as sched_api does.
func parseWhen(spec string) (in time.Duration, recur time.Duration, ok bool) {
	if spec == "" {
		return 0, 0, false
	}
	switch spec[0] {
	case '+', '@':
		n, err := strconv.Atoi(spec[1:])
		if err != nil {
			return 0, 0, false
		}
		d := time.Duration(n) * time.Second
		if spec[0] == '@' {
			return d, d, true
		}
		return d, 0, true
	}
	n, err := strconv.ParseInt(spec, 10, 64)
	if err != nil {
		return 0, 0, false
	}
	return time.Until(time.Unix(n, 0)), 0, true
}

// addTask schedules run (with s.mu held) after in, every recur if > 0.
func (s *Sim) addTask(in, recur time.Duration, group string, run func()) uint32 {
	s.taskID++
	t := &task{id: s.taskID, group: group}
	s.tasks[t.id] = t
	var fire func()
	fire = func() {
		if s.tasks[t.id] != t {
			return
		}
		if recur > 0 {
			t.timer = s.after(recur, fire)
		} else {
			delete(s.tasks, t.id)
		}
		run()
	}
	if in < 0 {
		in = 0
	}
	t.timer = s.after(in, fire)
	return t.id
}

// schedHangup schedules the hangup of l; "+0" hangs up at once.
func (s *Sim) schedHangup(when string, l *leg, cause string) bool {
	in, _, ok := parseWhen(when)
	if !ok {
		in = 0
	}
	if in <= 0 && (strings.HasPrefix(when, "+") || !ok) {
		l.hangupLocal(cause)
		return true
	}
	s.addTask(in, 0, l.uuid, func() {
		if !l.down {
			l.hangupLocal(cause)
		}
	})
	return true
}

func apiSchedHangup(s *Sim, arg string) string {
	f := strings.Fields(arg)
	if len(f) < 1 {
		return "-USAGE: [+]<time> <uuid> [<cause>]\n"
	}
	if len(f) < 2 {
		return "-ERR No such channel!\n"
	}
	l := s.leg(f[1])
	if l == nil {
		return "-ERR No such channel!\n"
	}
	cause := "ALLOTTED_TIMEOUT"
	if len(f) > 2 {
		cause = causeName(f[2])
	}
	s.schedHangup(f[0], l, cause)
	return "+OK\n"
}

// schedAPI is sched_api "[+@]<time> <group> <command>[&]" and returns its reply.
func (s *Sim) schedAPI(arg string) string {
	const bad = "-ERR Invalid syntax. USAGE: [+@]<time> <group_name> <command_string>[&]\n"
	when, rest, ok := strings.Cut(strings.TrimSpace(arg), " ")
	if !ok {
		return bad
	}
	group, cmdline, ok := strings.Cut(rest, " ")
	if !ok {
		return bad
	}
	in, recur, ok := parseWhen(when)
	if !ok {
		return bad
	}
	cmdline = strings.TrimSuffix(cmdline, "&")
	id := s.addTask(in, recur, group, func() {
		cmd, a, _ := strings.Cut(cmdline, " ")
		s.runAPI(cmd, a, nil, func(string) {})
	})
	return "+OK Added: " + strconv.FormatUint(uint64(id), 10) + "\n"
}

func apiSchedAPI(s *Sim, arg string) string { return s.schedAPI(arg) }

func apiSchedDel(s *Sim, arg string) string {
	arg = strings.TrimSpace(arg)
	if arg == "" {
		return "-ERR Invalid syntax\n"
	}
	n := 0
	if id, err := strconv.ParseUint(arg, 10, 32); err == nil {
		if t, ok := s.tasks[uint32(id)]; ok && id > 0 {
			t.timer.Stop()
			delete(s.tasks, t.id)
			n++
		}
	} else {
		for id, t := range s.tasks {
			if t.group == arg {
				t.timer.Stop()
				delete(s.tasks, id)
				n++
			}
		}
	}
	return "+OK Deleted: " + strconv.Itoa(n) + "\n"
}
