package sample

import (
	"bytes"
	"encoding/base64"
	"errors"
)

// Users is what the http_auth fetches check credentials against: the configuration's
// userlists (internal/auth).
type Users interface {
	Check(list, user, pass string) bool
	Groups(list, user string) []string
	// Ref notes that the configuration names a userlist (checked once all are read).
	Ref(list string)
}

func init() {
	load := func(p *Parser, a []Arg) error {
		if p.Users == nil {
			return errors.New("no userlist can be used here")
		}
		p.Users.Ref(a[0].S)
		a[0].X = p.Users
		return nil
	}
	addFetches(
		&Fetch{Name: "http_auth", Args: "s", Out: TBool, Use: SrcHReqHdr, Load: load, Fn: func(c *Ctx, a []Arg, v *Value) bool {
			user, pass, ok := basicAuth(c)
			*v = Bool(ok && a[0].X.(Users).Check(a[0].S, bstr(user), bstr(pass)))
			return c.In.Request() != nil
		}},
		// http_auth_group(L) is the user's name as a sample; an ACL iterates over
		// the user's groups, so that its patterns are group names.
		&Fetch{Name: "http_auth_group", Args: "s", Out: TStr, Use: SrcHReqHdr, Multi: true, Load: load, Fn: func(c *Ctx, a []Arg, v *Value) bool {
			user, pass, ok := basicAuth(c)
			users := a[0].X.(Users)
			if !ok || !users.Check(a[0].S, bstr(user), bstr(pass)) {
				return false
			}
			n, iter := c.Iterating()
			if !iter {
				*v = Str(user)
				return true
			}
			groups := users.Groups(a[0].S, bstr(user))
			if n >= len(groups) {
				return false
			}
			if n+1 < len(groups) {
				c.More()
			}
			*v = Str(sbytes(groups[n]))
			return true
		}},
		&Fetch{Name: "http_auth_user", Out: TStr, Use: SrcHReqHdr, Fn: func(c *Ctx, a []Arg, v *Value) bool {
			user, _, ok := basicAuth(c)
			*v = Str(user)
			return ok
		}},
		&Fetch{Name: "http_auth_pass", Out: TStr, Use: SrcHReqHdr, Fn: func(c *Ctx, a []Arg, v *Value) bool {
			_, pass, ok := basicAuth(c)
			*v = Str(pass)
			return ok
		}},
		&Fetch{Name: "http_auth_type", Out: TStr, Use: SrcHReqHdr, Fn: func(c *Ctx, a []Arg, v *Value) bool {
			r := c.In.Request()
			if r == nil {
				return false
			}
			h, ok := hdrNth(r.Headers, "authorization", true, 1)
			if !ok {
				return false
			}
			typ, _, _ := bytes.Cut(h, []byte(" "))
			*v = Str(typ)
			return true
		}},
	)
	for name := range fetches {
		delete(unsupportedFetches, name)
	}
}

// basicAuth decodes the request's Basic credentials into the scratch space.
func basicAuth(c *Ctx) (user, pass []byte, ok bool) {
	r := c.In.Request()
	if r == nil {
		return nil, nil, false
	}
	h, found := hdrNth(r.Headers, "authorization", true, 1)
	if !found || len(h) < 6 || !eqFold(h[:6], "basic ") {
		return nil, nil, false
	}
	start := len(c.buf)
	out, err := base64.StdEncoding.AppendDecode(c.buf, trimOWS(h[6:]))
	if err != nil {
		return nil, nil, false
	}
	c.buf = out
	cred := c.grab(start)
	user, pass, ok = bytes.Cut(cred, []byte(":"))
	return user, pass, ok
}
