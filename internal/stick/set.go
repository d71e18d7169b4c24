package stick

import "time"

// Set is every table of a configuration, by name, in declaration order.
type Set struct {
	tables []*Table
	byName map[string]*Table
}

// NewSet builds empty tables for specs (declaration order); clock is nil for the
// process clock.
func NewSet(specs []*Spec, clock func() int64) *Set {
	s := &Set{byName: map[string]*Table{}}
	for _, sp := range specs {
		t := New(*sp, clock)
		s.tables = append(s.tables, t)
		s.byName[sp.Name] = t
	}
	return s
}

// Table returns the table called name, or nil.
func (s *Set) Table(name string) *Table {
	if s == nil {
		return nil
	}
	return s.byName[name]
}

// All returns the tables in declaration order.
func (s *Set) All() []*Table {
	if s == nil {
		return nil
	}
	return s.tables
}

// RunExpiry removes expired entries from every table every interval until done is
// closed (the instance runs it for the life of the configuration).
func (s *Set) RunExpiry(done <-chan struct{}, interval time.Duration) {
	if s == nil || len(s.tables) == 0 {
		return
	}
	tk := time.NewTicker(interval)
	defer tk.Stop()
	for {
		select {
		case <-done:
			return
		case <-tk.C:
			for _, t := range s.tables {
				for t.Expire(4096) > 0 {
				}
			}
		}
	}
}
