package pattern

import (
	"errors"
	"fmt"
	"os"
	"sync"
)

// Registry holds the pattern and map files a configuration reads, once per path:
// every ACL or converter naming a file shares its Refs (one per match method, case
// flag and use), so that the Runtime API changes them all at once.
type Registry struct {
	// At is where the configuration line being parsed is ("file:line"); Load records
	// it as a user of the file (`show map` prints them).
	At string
	// mu guards files, order and nextID.
	mu     sync.Mutex
	files  map[string]*File
	order  []*File
	nextID uint64
}

// File is one pattern or map file with the Refs compiled from it and the versions
// prepared by the Runtime API.
type File struct {
	Path  string
	IsMap bool
	ID    int // its number in `show map`/`show acl`
	reg   *Registry

	// mu guards everything below; readers of the Sets need no lock.
	mu      sync.Mutex
	entries []Entry
	refs    []*use
	users   []string // "map at file 'f' line 3"
	curVer  uint
	nextVer uint
	pending map[uint][]Entry // prepared versions not committed yet
	// Dirty is set once the Runtime API changed the file: only such files carry
	// their content over a reload (an edited file on disk wins otherwise).
	dirty bool
}

// use is one compiled Set of a file: its method, case flag, and the output type of
// the map converter that reads it ("" for an ACL).
type use struct {
	m    Method
	fold bool
	out  string
	ref  *Ref
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{files: map[string]*File{}, nextID: 1} }

func (r *Registry) id() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	id := r.nextID
	r.nextID++
	return id
}

// Load returns the Ref of path compiled for m and fold, reading the file the first
// time it is named. out is the map converter's output type ("str", "int", "ip"), or
// "" for an ACL. A file read as a pattern list cannot be read as a map, and the
// other way round, as in HAProxy.
func (r *Registry) Load(path string, isMap bool, m Method, fold bool, out string) (*Ref, error) {
	r.mu.Lock()
	f := r.files[path]
	r.mu.Unlock()
	if f == nil {
		entries, err := ReadFile(path, isMap)
		if err != nil {
			return nil, err
		}
		for i := range entries {
			entries[i].ID = r.id()
		}
		r.mu.Lock()
		if g := r.files[path]; g != nil {
			f = g
		} else {
			f = &File{Path: path, IsMap: isMap, entries: entries, reg: r, ID: len(r.order)}
			r.files[path] = f
			r.order = append(r.order, f)
		}
		r.mu.Unlock()
	}
	if f.IsMap != isMap {
		one, two := "one", "two"
		if f.IsMap {
			one, two = two, one
		}
		return nil, fmt.Errorf("The file \"%s\" is already used as %s column file and cannot be used by as %s column file.", path, one, two)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	kind := "acl"
	if isMap {
		kind = "map"
	}
	if r.At != "" {
		f.users = append(f.users, kind+" at "+r.At)
	}
	for _, u := range f.refs {
		if u.m == m && u.fold == fold && u.out == out {
			return u.ref, nil
		}
	}
	s, err := compileLines(path, m, fold, f.entries)
	if err != nil {
		return nil, err
	}
	u := &use{m: m, fold: fold, out: out, ref: NewRef(s)}
	f.refs = append(f.refs, u)
	return u.ref, nil
}

// Ensure returns the file of path for the set-map, add-acl and similar actions: the
// one already read, else the file read now, else an empty one when it does not exist.
func (r *Registry) Ensure(path string, isMap bool) (*File, error) {
	if f := r.Lookup(path); f != nil {
		if f.IsMap != isMap {
			_, err := r.Load(path, isMap, Str, false, "")
			return nil, err
		}
		return f, nil
	}
	entries, err := ReadFile(path, isMap)
	if err != nil {
		if _, statErr := os.Stat(path); !os.IsNotExist(statErr) {
			return nil, err
		}
		entries = nil
	}
	for i := range entries {
		entries[i].ID = r.id()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if f := r.files[path]; f != nil {
		return f, nil
	}
	f := &File{Path: path, IsMap: isMap, entries: entries, reg: r, ID: len(r.order)}
	r.files[path] = f
	r.order = append(r.order, f)
	return f, nil
}

// AddMissing adds a pattern unless it is there already (add-acl).
func (f *File) AddMissing(key string) error {
	f.mu.Lock()
	for i := range f.entries {
		if f.entries[i].Key == key {
			f.mu.Unlock()
			return nil
		}
	}
	f.mu.Unlock()
	return f.Add(0, key, "")
}

// Upsert sets the value of the entries named key, or adds one (set-map).
func (f *File) Upsert(key, value string) error {
	ok, err := f.Set(key, value)
	if err != nil || ok {
		return err
	}
	return f.Add(0, key, value)
}

// compileLines compiles entries, naming the line of the first bad one.
func compileLines(path string, m Method, fold bool, entries []Entry) (*Set, error) {
	s, err := Compile(m, fold, entries)
	if err == nil {
		return s, nil
	}
	for _, e := range entries {
		if _, err1 := Compile(m, fold, []Entry{e}); err1 != nil {
			if e.Line == 0 {
				return nil, err1
			}
			return nil, lineErr(path, e.Line, err1)
		}
	}
	return nil, err
}

// Files lists the files in the order they were first read.
func (r *Registry) Files() []*File {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*File(nil), r.order...)
}

// Lookup returns the file named by path or by "#ID", or nil.
func (r *Registry) Lookup(name string) *File {
	r.mu.Lock()
	defer r.mu.Unlock()
	if f := r.files[name]; f != nil {
		return f
	}
	if len(name) > 1 && name[0] == '#' {
		for _, f := range r.order {
			if fmt.Sprint(f.ID) == name[1:] {
				return f
			}
		}
	}
	return nil
}

// Users says where the configuration uses the file.
func (f *File) Users() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.users...)
}

// Versions returns the current and the next version numbers.
func (f *File) Versions() (cur, next uint) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.curVer, f.nextVer
}

// Dirty reports whether the Runtime API changed the file.
func (f *File) Dirty() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dirty
}

// Entries returns a copy of the entries of version ver (0 = the current one).
func (f *File) Entries(ver uint) ([]Entry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ver == 0 || ver == f.curVer {
		return append([]Entry(nil), f.entries...), nil
	}
	if err := f.checkVer(ver); err != nil {
		return nil, err
	}
	return append([]Entry(nil), f.pending[ver]...), nil
}

// The version errors, in HAProxy's words.
var (
	ErrVersionFuture = errors.New("Version number in the future, please use 'prepare map' before.")
	ErrVersionRange  = errors.New("Version number out of range.")
)

func (f *File) checkVer(ver uint) error {
	if ver > f.nextVer {
		return ErrVersionFuture
	}
	if ver <= f.curVer {
		return ErrVersionRange
	}
	return nil
}

// recompile rebuilds every Set from entries and swaps them in; an entry that does
// not compile for one of them is refused and nothing changes. Must be called with
// f.mu held.
func (f *File) recompile(entries []Entry) error {
	sets := make([]*Set, len(f.refs))
	for i, u := range f.refs {
		s, err := compileLines(f.Path, u.m, u.fold, entries)
		if err != nil {
			return err
		}
		sets[i] = s
	}
	for i, u := range f.refs {
		u.ref.Store(sets[i])
	}
	f.entries = entries
	f.dirty = true
	return nil
}

// Add appends an entry to version ver (0 = the current one, live at once).
func (f *File) Add(ver uint, key, value string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	e := Entry{Key: key, Value: value, ID: f.reg.id()}
	if ver != 0 && ver != f.curVer {
		if err := f.checkVer(ver); err != nil {
			return err
		}
		// Check that the pattern compiles for every use.
		for _, u := range f.refs {
			if _, err := Compile(u.m, u.fold, []Entry{e}); err != nil {
				return err
			}
		}
		f.pending[ver] = append(f.pending[ver], e)
		return nil
	}
	return f.recompile(append(append([]Entry(nil), f.entries...), e))
}

// match reports whether an entry is the one named by key or "#0xID".
func match(e *Entry, key string) bool {
	if len(key) > 1 && key[0] == '#' {
		return fmt.Sprintf("%#x", e.ID) == key[1:]
	}
	return e.Key == key
}

// Set changes the value of the entries named by key or #ref; it reports false when
// there is none.
func (f *File) Set(key, value string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	entries := append([]Entry(nil), f.entries...)
	found := false
	for i := range entries {
		if match(&entries[i], key) {
			entries[i].Value = value
			found = true
		}
	}
	if !found {
		return false, nil
	}
	return true, f.recompile(entries)
}

// Delete removes the entries named by key or #ref; it reports false when there is
// none.
func (f *File) Delete(key string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var kept []Entry
	for i := range f.entries {
		if !match(&f.entries[i], key) {
			kept = append(kept, f.entries[i])
		}
	}
	if len(kept) == len(f.entries) {
		return false, nil
	}
	return true, f.recompile(kept)
}

// Clear empties version ver (0 = the current one).
func (f *File) Clear(ver uint) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ver != 0 && ver != f.curVer {
		if f.checkVer(ver) == nil {
			f.pending[ver] = nil
		}
		return nil // HAProxy answers nothing for a version it does not have
	}
	return f.recompile(nil)
}

// Prepare opens a new, empty version and returns its number.
func (f *File) Prepare() uint {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextVer++
	if f.pending == nil {
		f.pending = map[uint][]Entry{}
	}
	f.pending[f.nextVer] = nil
	return f.nextVer
}

// Commit makes version ver the current one; older prepared versions are dropped.
func (f *File) Commit(ver uint) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.checkVer(ver) != nil {
		return ErrVersionRange // HAProxy's word for any version it cannot commit
	}
	if err := f.recompile(append([]Entry(nil), f.pending[ver]...)); err != nil {
		return err
	}
	for v := range f.pending {
		if v <= ver {
			delete(f.pending, v)
		}
	}
	f.curVer = ver
	return nil
}

// Replace sets the current entries (the content carried over a reload); the file
// counts as changed at runtime.
func (f *File) Replace(entries []Entry) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range entries {
		entries[i].ID = f.reg.id()
	}
	return f.recompile(entries)
}

// Uses describes each compiled Set of the file for `get map|acl`.
func (f *File) Uses() []Use {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Use, len(f.refs))
	for i, u := range f.refs {
		out[i] = Use{Method: u.m, Fold: u.fold, Out: u.out, Set: u.ref.Load()}
	}
	return out
}

// Use is one compiled Set of a file and how it is used.
type Use struct {
	Method Method
	Fold   bool
	Out    string // the map converter's output type, "" for an ACL
	Set    *Set
}

// Indexed says whether lookups use an index (HAProxy's "tree") rather than a walk.
func (u Use) Indexed() bool {
	return (u.Method == Str || u.Method == IP) && !u.Fold
}
