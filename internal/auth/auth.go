// Package auth holds the `userlist` sections: users with crypt(3) password hashes
// (SHA-512, SHA-256 and MD5 through github.com/GehirnInc/crypt) or insecure
// passwords, and groups; it checks HTTP Basic credentials for the http_auth fetches
// and `http-request auth`. The config package builds a Registry while parsing; the
// sample fetches read it per request.
package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/GehirnInc/crypt"
	_ "github.com/GehirnInc/crypt/md5_crypt"    // $1$
	_ "github.com/GehirnInc/crypt/sha256_crypt" // $5$
	_ "github.com/GehirnInc/crypt/sha512_crypt" // $6$
)

// User is one `user` line.
type User struct {
	Name     string
	Hash     string // crypt(3) hash; "" with an insecure password
	Insecure string // `insecure-password`
	Groups   []string
}

// List is one `userlist` section.
type List struct {
	Name   string
	Users  map[string]*User
	Groups map[string]bool // declared groups
	// mu guards ok: the password digests already checked against a hash, so that a
	// client sending the same credentials does not cost a crypt(3) run per request.
	mu sync.Mutex
	ok map[string][sha256.Size]byte
}

// Registry holds the userlists of a configuration.
type Registry struct {
	Lists map[string]*List
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{Lists: map[string]*List{}} }

// CheckHash reports an error for a hash crypt(3) cannot check here.
func CheckHash(h string) error {
	if !crypt.IsHashSupported(h) {
		return errors.New("unsupported password hash (SHA-512 $6$, SHA-256 $5$ and MD5 $1$ are supported; DES is not supported yet)")
	}
	return nil
}

// Check reports whether user and pass are valid in the named list.
func (r *Registry) Check(list, user, pass string) bool {
	l := r.Lists[list]
	if l == nil {
		return false
	}
	u := l.Users[user]
	if u == nil {
		return false
	}
	if u.Hash == "" {
		return subtle.ConstantTimeCompare([]byte(u.Insecure), []byte(pass)) == 1
	}
	sum := sha256.Sum256([]byte(pass))
	l.mu.Lock()
	cached, ok := l.ok[user]
	l.mu.Unlock()
	if ok && subtle.ConstantTimeCompare(cached[:], sum[:]) == 1 {
		return true
	}
	if crypt.NewFromHash(u.Hash).Verify(u.Hash, []byte(pass)) != nil {
		return false
	}
	l.mu.Lock()
	if l.ok == nil {
		l.ok = map[string][sha256.Size]byte{}
	}
	l.ok[user] = sum
	l.mu.Unlock()
	return true
}

// Groups returns the groups of a user of the named list.
func (r *Registry) Groups(list, user string) []string {
	if l := r.Lists[list]; l != nil {
		if u := l.Users[user]; u != nil {
			return u.Groups
		}
	}
	return nil
}

// Has reports whether a list exists.
func (r *Registry) Has(list string) bool { return r.Lists[list] != nil }

// Parser reads the lines of userlist sections.
type Parser struct {
	reg   *Registry
	cur   *List
	users map[string][]string // group -> users of `group NAME users ...`, applied at the end
}

// NewParser returns a parser filling reg.
func NewParser(reg *Registry) *Parser { return &Parser{reg: reg, users: map[string][]string{}} }

// Start begins a `userlist NAME` section.
func (p *Parser) Start(name string) error {
	if name == "" {
		return errors.New("'userlist' expects <name> as arguments.")
	}
	if p.reg.Lists[name] != nil {
		return fmt.Errorf("ignoring duplicate userlist '%s'.", name)
	}
	p.cur = &List{Name: name, Users: map[string]*User{}, Groups: map[string]bool{}}
	p.reg.Lists[name] = p.cur
	return nil
}

// Line reads one `user` or `group` line of the current section.
func (p *Parser) Line(w []string) error {
	l := p.cur
	switch w[0] {
	case "group":
		if len(w) < 2 {
			return errors.New("'group' expects <name> as arguments.")
		}
		if l.Groups[w[1]] {
			return fmt.Errorf("duplicate group '%s' in userlist '%s'.", w[1], l.Name)
		}
		l.Groups[w[1]] = true
		for i := 2; i < len(w); i++ {
			if w[i] == "users" && i+1 < len(w) {
				key := l.Name + "\x00" + w[1]
				p.users[key] = append(p.users[key], strings.Split(w[i+1], ",")...)
				i++
				continue
			}
			return fmt.Errorf("'group' only supports 'users' option (got '%s').", w[i])
		}
	case "user":
		if len(w) < 2 {
			return errors.New("'user' expects <name> as arguments.")
		}
		if l.Users[w[1]] != nil {
			return fmt.Errorf("duplicate user '%s' in userlist '%s'.", w[1], l.Name)
		}
		u := &User{Name: w[1]}
		for i := 2; i < len(w); i += 2 {
			if i+1 >= len(w) {
				return fmt.Errorf("'%s' expects an argument.", w[i])
			}
			switch w[i] {
			case "password":
				if err := CheckHash(w[i+1]); err != nil {
					return fmt.Errorf("user '%s': %v", w[1], err)
				}
				u.Hash = w[i+1]
			case "insecure-password":
				u.Insecure = w[i+1]
			case "groups":
				u.Groups = append(u.Groups, strings.Split(w[i+1], ",")...)
			default:
				return fmt.Errorf("'user' only supports 'password', 'insecure-password' and 'groups' options (got '%s').", w[i])
			}
		}
		l.Users[u.Name] = u
	default:
		return fmt.Errorf("unknown keyword '%s' in 'userlist' section", w[0])
	}
	return nil
}

// Finish applies the `group ... users` lists and checks that every group a user
// names exists.
func (p *Parser) Finish() []error {
	var errs []error
	for key, users := range p.users {
		list, group, _ := strings.Cut(key, "\x00")
		l := p.reg.Lists[list]
		for _, name := range users {
			u := l.Users[name]
			if u == nil {
				errs = append(errs, fmt.Errorf("userlist '%s': no such user '%s' in group '%s'.", list, name, group))
				continue
			}
			u.Groups = append(u.Groups, group)
		}
	}
	for _, l := range p.reg.Lists {
		for _, u := range l.Users {
			for _, g := range u.Groups {
				if !l.Groups[g] {
					errs = append(errs, fmt.Errorf("userlist '%s': no such group '%s' for user '%s'.", l.Name, g, u.Name))
				}
			}
		}
	}
	return errs
}
