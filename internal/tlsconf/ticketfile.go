package tlsconf

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"
	"strings"
	"sync"
)

// TicketFiles are the tls-ticket-keys files of a configuration, numbered from 0 in the
// order binds name them (a file named by several binds is one entry, as in HAProxy),
// for `show tls-keys` and `set ssl tls-key`. Keys set at runtime last until the next
// reload, which reads the files again (HAProxy 2.6's behaviour).
type TicketFiles struct {
	mu    sync.Mutex // guards files and every file's slots and enc
	files []*TicketFile
}

// TicketFile is one tls-ticket-keys file: HAProxy's three slots (line i of the file in
// slot i%3) and the index of the encryption key.
type TicketFile struct {
	ID        int
	Path      string
	slots     [ticketsNo][]byte
	enc       int
	listeners []*Listener
}

// load returns the file's entry, reading it the first time a bind names it.
func (t *TicketFiles) load(path string) (*TicketFile, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, f := range t.files {
		if f.Path == path {
			return f, nil
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("'%s' : unable to load ssl tickets keys file: %s", path, osReason(err))
	}
	raw, err := parseTicketLines(path, b)
	if err != nil {
		return nil, err
	}
	f := &TicketFile{ID: len(t.files), Path: path, enc: (len(raw) - 2) % ticketsNo}
	for i, k := range raw {
		f.slots[i%ticketsNo] = k
	}
	t.files = append(t.files, f)
	return f, nil
}

// keys are the file's keys as Go takes them: current, next, previous. Must be
// called with TicketFiles.mu held (or before the file is shared).
func (f *TicketFile) keys() TicketKeys {
	var out TicketKeys
	for _, i := range []int{f.enc, (f.enc + 1) % ticketsNo, (f.enc + 2) % ticketsNo} {
		out = append(out, sha256.Sum256(f.slots[i]))
	}
	return out
}

// apply gives the file's keys to every bind that names it. Must be called with
// TicketFiles.mu held.
func (f *TicketFile) apply() {
	k := f.keys()
	for _, l := range f.listeners {
		for _, c := range l.configs {
			c.SetSessionTicketKeys(k)
		}
	}
}

// find resolves a CLI reference: "#<id>" or the exact file name.
func (t *TicketFiles) find(ref string) *TicketFile {
	for _, f := range t.files {
		if ref == f.Path || ref == fmt.Sprintf("#%d", f.ID) {
			return f
		}
	}
	return nil
}

// Show is `show tls-keys [ref|*]` with HAProxy 2.6's output: the list of files, or
// the keys of one (or all) as previous, current and next.
func (t *TicketFiles) Show(ref string) string {
	if t == nil {
		t = &TicketFiles{}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	var b strings.Builder
	if ref == "" {
		b.WriteString("# id (file)\n")
		for _, f := range t.files {
			fmt.Fprintf(&b, "%d (%s)\n", f.ID, f.Path)
		}
		return b.String()
	}
	files := t.files
	if ref != "*" {
		f := t.find(ref)
		if f == nil {
			return "'show tls-keys' unable to locate referenced filename\n"
		}
		files = []*TicketFile{f}
	}
	b.WriteString("# id secret\n")
	for _, f := range files {
		fmt.Fprintf(&b, "# %d (%s)\n", f.ID, f.Path)
		for i := 0; i < ticketsNo; i++ {
			fmt.Fprintf(&b, "%d.%d %s\n", f.ID, i, base64.StdEncoding.EncodeToString(f.slots[(f.enc+2+i)%ticketsNo]))
		}
	}
	return b.String()
}

// Set is `set ssl tls-key <ref> <base64>`: the new key replaces "previous" and the
// encryption moves on, so that "next" encrypts and the new key becomes "next".
func (t *TicketFiles) Set(ref, key string) string {
	if t == nil {
		t = &TicketFiles{}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if ref == "" || key == "" {
		return "'set ssl tls-key' expects a filename and the new TLS key in base64 encoding.\n"
	}
	f := t.find(ref)
	if f == nil {
		return "'set ssl tls-key' unable to locate referenced filename\n"
	}
	b, err := base64.StdEncoding.DecodeString(key)
	if err != nil {
		return "'set ssl tls-key' received invalid base64 encoded TLS key.\n"
	}
	if len(b) != len(f.slots[f.enc]) {
		return "'set ssl tls-key' received a key of wrong size.\n"
	}
	f.slots[(f.enc+2)%ticketsNo] = b
	f.enc = (f.enc + 1) % ticketsNo
	f.apply()
	return "TLS ticket key updated!\n"
}
