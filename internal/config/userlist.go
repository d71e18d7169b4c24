package config

import (
	"fmt"

	"hitless/internal/auth"
	"hitless/internal/sample"
)

// `userlist` sections (internal/auth) and what reads them: the http_auth fetches and
// `http-request auth [realm R]`.

// users is the sample.Users of a configuration: the userlists, and the references
// to them, checked once every section is read (a userlist may come after its use).
type users struct {
	*auth.Registry
	refs []userRef
}

type userRef struct {
	pos  Pos
	list string
}

func (u *users) Ref(list string) { u.refs = append(u.refs, userRef{list: list}) }

// sampleParser compiles sample expressions with the configuration's map files and
// userlists.
func (ps *parser) sampleParser() *sample.Parser {
	if ps.users == nil {
		ps.users = &users{Registry: ps.cfg.Users}
		ps.authParser = auth.NewParser(ps.cfg.Users)
	}
	return &sample.Parser{Files: ps.cfg.Patterns, Users: refAt{ps.users, ps.pos}}
}

// refAt records references with the line they are on.
type refAt struct {
	*users
	pos Pos
}

func (r refAt) Ref(list string) { r.users.refs = append(r.users.refs, userRef{pos: r.pos, list: list}) }

func (ps *parser) startUserlist(w []string) {
	ps.sampleParser()
	ps.section, ps.px = "userlist", nil
	name := ""
	if len(w) > 1 {
		name = w[1]
	}
	if err := ps.authParser.Start(name); err != nil {
		ps.errorf("%v", err)
		ps.section = "skip"
	}
}

func (ps *parser) userlistKeyword(w []string) {
	if err := ps.authParser.Line(w); err != nil {
		ps.errorf("%v", err)
	}
}

// finishUserlists checks groups and the userlists that rules name.
func (ps *parser) finishUserlists() {
	if ps.users == nil {
		return
	}
	for _, err := range ps.authParser.Finish() {
		ps.errs = append(ps.errs, &Error{Msg: err.Error()})
	}
	for _, r := range ps.users.refs {
		if !ps.cfg.Users.Has(r.list) {
			ps.errs = append(ps.errs, &Error{Pos: r.pos, Msg: fmt.Sprintf("unable to find userlist '%s' referenced in arg 1 of sample fetch keyword 'http_auth'.", r.list)})
		}
	}
}
