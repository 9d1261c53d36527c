package models

// ExtrasStats exposes the size of a session's carried headers to tests:
// entries, name bytes, value bytes.
func ExtrasStats(s *Session) (n, names, values int) {
	for i := range s.extras.ents {
		n, v := s.extras.at(i)
		names += len(n)
		values += len(v)
	}
	return len(s.extras.ents), names, values
}

// ExtrasNames lists the carried header names (tests).
func ExtrasNames(s *Session) []string {
	var out []string
	for i := range s.extras.ents {
		n, _ := s.extras.at(i)
		out = append(out, n)
	}
	return out
}

// LimitNames makes the name table full (new names are stored inline) until
// the returned function is called.
func LimitNames() (restore func()) {
	old := maxNames
	nameTable.mu.Lock()
	maxNames = len(*nameTable.list.Load())
	nameTable.mu.Unlock()
	return func() {
		nameTable.mu.Lock()
		maxNames = old
		nameTable.mu.Unlock()
	}
}

// Prev returns the older event a session keeps whole, if any (tests).
func Prev(s *Session) Event { return s.prev }
