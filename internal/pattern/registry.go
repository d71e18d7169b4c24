package pattern

import (
	"sort"
	"sync"
)

// Registry holds the pattern and map files a configuration reads, once per path:
// every ACL or converter naming a file shares its Refs (one per match method and
// case flag), so that the Runtime API changes them all at once.
type Registry struct {
	// mu guards files.
	mu    sync.Mutex
	files map[string]*File
}

// File is one pattern or map file with the Refs compiled from it.
type File struct {
	Path  string
	IsMap bool
	// mu guards Entries and refs; readers of the Sets need no lock.
	mu      sync.Mutex
	Entries []Entry
	nextID  uint64
	refs    map[refKey]*Ref
}

type refKey struct {
	m    Method
	fold bool
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{files: map[string]*File{}} }

// Load returns the Ref of path compiled for m and fold, reading the file the first
// time it is named.
func (r *Registry) Load(path string, isMap bool, m Method, fold bool) (*Ref, error) {
	r.mu.Lock()
	f := r.files[path]
	r.mu.Unlock()
	if f == nil {
		entries, err := ReadFile(path, isMap)
		if err != nil {
			return nil, err
		}
		f = &File{Path: path, IsMap: isMap, Entries: entries, nextID: uint64(len(entries)), refs: map[refKey]*Ref{}}
		r.mu.Lock()
		if g := r.files[path]; g != nil {
			f = g
		} else {
			r.files[path] = f
		}
		r.mu.Unlock()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	k := refKey{m, fold}
	if ref := f.refs[k]; ref != nil {
		return ref, nil
	}
	s, err := Compile(m, fold, f.Entries)
	if err != nil {
		for _, e := range f.Entries {
			if _, err1 := Compile(m, fold, []Entry{e}); err1 != nil {
				return nil, lineErr(path, e.Line, err1)
			}
		}
		return nil, err
	}
	ref := NewRef(s)
	f.refs[k] = ref
	return ref, nil
}

// Files lists the files in path order.
func (r *Registry) Files() []*File {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*File, 0, len(r.files))
	for _, f := range r.files {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// Lookup returns the file of a path, or nil.
func (r *Registry) Lookup(path string) *File {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.files[path]
}

// Snapshot returns a copy of the file's entries.
func (f *File) Snapshot() []Entry {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Entry(nil), f.Entries...)
}

// Replace sets the file's entries (IDs are renumbered when zero) and recompiles
// every Ref; an entry that does not compile for one of them is refused and nothing
// changes.
func (f *File) Replace(entries []Entry) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range entries {
		if entries[i].ID == 0 && (i > 0 || f.nextID > 0) {
			entries[i].ID = f.nextID
			f.nextID++
		}
	}
	sets := map[refKey]*Set{}
	for k := range f.refs {
		s, err := Compile(k.m, k.fold, append([]Entry(nil), entries...))
		if err != nil {
			return err
		}
		sets[k] = s
	}
	for k, s := range sets {
		f.refs[k].Store(s)
	}
	f.Entries = entries
	return nil
}
