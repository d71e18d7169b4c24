package sample

import (
	"fmt"
	"strings"
	"sync"
)

// Scope is a variable's lifetime: the process, the session (connection), the
// transaction (request and response), or one direction of it.
type Scope uint8

const (
	ScopeProc Scope = iota
	ScopeSess
	ScopeTxn
	ScopeReq
	ScopeRes
	ScopeCheck
)

var scopeNames = [...]string{"proc", "sess", "txn", "req", "res", "check"}

func (s Scope) String() string { return scopeNames[s] }

// VarRef names a variable: `txn.name`.
type VarRef struct {
	Scope Scope
	Name  string
}

func (v VarRef) String() string { return v.Scope.String() + "." + v.Name }

// ParseVarName reads SCOPE.NAME with HAProxy's message for a bad scope.
func ParseVarName(s string) (VarRef, error) {
	scope, name, ok := strings.Cut(s, ".")
	for i, n := range scopeNames {
		if ok && scope == n && name != "" {
			for _, c := range name {
				if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.') {
					return VarRef{}, fmt.Errorf("invalid variable name '%s'. Only characters 'a-Z', 'A-Z', '0-9', '.' and '_' are allowed", s)
				}
			}
			return VarRef{Scope: Scope(i), Name: name}, nil
		}
	}
	return VarRef{}, fmt.Errorf("invalid variable name '%s'. A variable name must be start by its scope. The scope can be 'proc', 'sess', 'txn', 'req', 'res' or 'check'", s)
}

// slot is one stored variable; its bytes are owned (copied in).
type slot struct {
	ref VarRef
	set bool
	v   Value
	buf []byte
}

func (s *slot) store(v *Value) {
	s.set = true
	s.v = *v
	if v.Type == TStr || v.Type == TBin || v.Type == TMeth {
		s.buf = append(s.buf[:0], v.B...)
		s.v.B = s.buf
	}
}

// Vars holds the variables of one session (sess, txn, req, res) and reaches the
// process's (proc). Slots are reused from one request to the next so that setting a
// variable allocates nothing once warm. A Vars is used by one goroutine at a time.
type Vars struct {
	Proc  *Store
	slots []slot
}

func (vs *Vars) find(r VarRef) *slot {
	for i := range vs.slots {
		if vs.slots[i].ref == r {
			return &vs.slots[i]
		}
	}
	return nil
}

// Set stores a copy of v.
func (vs *Vars) Set(r VarRef, v *Value) {
	if r.Scope == ScopeProc {
		if vs.Proc != nil {
			vs.Proc.Set(r.Name, v)
		}
		return
	}
	s := vs.find(r)
	if s == nil {
		vs.slots = append(vs.slots, slot{ref: r})
		s = &vs.slots[len(vs.slots)-1]
	}
	s.store(v)
}

// Unset removes a variable.
func (vs *Vars) Unset(r VarRef) {
	if r.Scope == ScopeProc {
		if vs.Proc != nil {
			vs.Proc.Unset(r.Name)
		}
		return
	}
	if s := vs.find(r); s != nil {
		s.set = false
	}
}

// Get returns a variable; proc variables are copied into c's scratch space.
func (vs *Vars) Get(c *Ctx, r VarRef, v *Value) bool {
	if r.Scope == ScopeProc {
		return vs.Proc != nil && vs.Proc.Get(c, r.Name, v)
	}
	s := vs.find(r)
	if s == nil || !s.set {
		return false
	}
	*v = s.v
	return true
}

// EndTxn forgets the variables of the transaction (txn, req, res), keeping their
// space for the next request.
func (vs *Vars) EndTxn() {
	for i := range vs.slots {
		if vs.slots[i].ref.Scope != ScopeSess {
			vs.slots[i].set = false
		}
	}
}

// Reset forgets every variable (a new session).
func (vs *Vars) Reset() {
	for i := range vs.slots {
		vs.slots[i].set = false
	}
}

// Store holds the process-wide variables (scope proc).
type Store struct {
	// mu guards vars.
	mu   sync.Mutex
	vars map[string]*slot
}

// NewStore returns an empty store.
func NewStore() *Store { return &Store{vars: map[string]*slot{}} }

// Set stores a copy of v.
func (st *Store) Set(name string, v *Value) {
	st.mu.Lock()
	s := st.vars[name]
	if s == nil {
		s = &slot{ref: VarRef{ScopeProc, name}}
		st.vars[name] = s
	}
	s.store(v)
	st.mu.Unlock()
}

// Unset removes a variable.
func (st *Store) Unset(name string) {
	st.mu.Lock()
	if s := st.vars[name]; s != nil {
		s.set = false
	}
	st.mu.Unlock()
}

// Get copies a variable into c's scratch space.
func (st *Store) Get(c *Ctx, name string, v *Value) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	s := st.vars[name]
	if s == nil || !s.set {
		return false
	}
	*v = s.v
	if v.B != nil {
		start := len(c.buf)
		c.buf = append(c.buf, v.B...)
		v.B = c.grab(start)
	}
	return true
}
