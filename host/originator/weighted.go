package originator

import (
	"errors"
	"fmt"
)

// App is one app of the mix: its id (the sip_h_X-switchlua_app header both
// legs carry, which picks the app the host runs on them) and its weight. An
// empty ID sends no header, so the host's default app handles the calls.
type App struct {
	ID     string
	Weight int
}

// wrr is a smooth weighted round-robin (nginx's): with weights a=3, b=1 it
// yields a a b a, a a b a, ... interleaved rather than in runs, and exactly
// in proportion over each cycle of sum(weights) picks.
type wrr struct {
	ids   []string
	w     []int
	cur   []int
	total int
}

func newWRR(apps []App) (*wrr, error) {
	if len(apps) == 0 {
		apps = []App{{ID: "", Weight: 1}}
	}
	r := &wrr{}
	seen := map[string]bool{}
	for _, a := range apps {
		if a.Weight < 0 {
			return nil, fmt.Errorf("originator: app %q: negative weight %d", a.ID, a.Weight)
		}
		if seen[a.ID] {
			return nil, fmt.Errorf("originator: app %q given twice", a.ID)
		}
		seen[a.ID] = true
		if a.Weight == 0 {
			continue
		}
		r.ids = append(r.ids, a.ID)
		r.w = append(r.w, a.Weight)
		r.total += a.Weight
	}
	if r.total == 0 {
		return nil, errors.New("originator: every app has weight 0")
	}
	r.cur = make([]int, len(r.w))
	return r, nil
}

// next returns the next app id.
func (r *wrr) next() string {
	if len(r.ids) == 1 {
		return r.ids[0]
	}
	best := 0
	for i, w := range r.w {
		r.cur[i] += w
		if r.cur[i] > r.cur[best] {
			best = i
		}
	}
	r.cur[best] -= r.total
	return r.ids[best]
}
