package sample

import (
	"errors"

	"hitless/internal/pattern"
)

// The map converters: map_<match>[_<output>](FILE[,DEFAULT]) look the sample up in a
// map file (keys matched as <match> does in an ACL) and return the value, or the
// default when no key matches.

type mapArg struct {
	ref *pattern.Ref
	m   pattern.Method
}

func init() {
	matches := []struct {
		name string
		m    pattern.Method
		in   Type
	}{
		{"str", pattern.Str, TStr}, {"beg", pattern.Beg, TStr}, {"end", pattern.End, TStr}, {"sub", pattern.Sub, TStr},
		{"dir", pattern.Dir, TStr}, {"dom", pattern.Dom, TStr}, {"reg", pattern.Reg, TStr}, {"regm", pattern.Reg, TStr},
		{"int", pattern.Int, TInt}, {"ip", pattern.IP, TAddr},
	}
	outs := []struct {
		suffix string
		t      Type
	}{{"", TStr}, {"_str", TStr}, {"_int", TInt}, {"_ip", TAddr}}
	for _, mt := range matches {
		for _, o := range outs {
			name := "map_" + mt.name + o.suffix
			if mt.name == "regm" && o.suffix == "_str" {
				continue
			}
			addConvs(&Conv{Name: name, Args: "s|s", In: mt.in, Out: o.t, Load: loadMap(mt.m, o.t), Fn: convMap(o.t)})
		}
	}
	m := *convs["map_str"]
	m.Name = "map"
	convs["map"] = &m
	for name := range convs {
		delete(unsupportedConvs, name)
	}
}

func loadMap(m pattern.Method, out Type) func(p *Parser, a []Arg) error {
	return func(p *Parser, a []Arg) error {
		if p.Files == nil {
			return errors.New("failed to open pattern file <" + a[0].S + ">")
		}
		ref, err := p.Files.Load(a[0].S, true, m, false)
		if err != nil {
			return err
		}
		a[0].X = mapArg{ref, m}
		if a[1].Set {
			// The default is cast to the output type once.
			var c Ctx
			v := Str(a[1].B)
			if !c.Cast(&v, out) {
				return errors.New("cannot convert default value '" + a[1].S + "'")
			}
			a[1].X = v
		}
		return nil
	}
}

func convMap(out Type) func(c *Ctx, a []Arg, v *Value) bool {
	return func(c *Ctx, a []Arg, v *Value) bool {
		ma := a[0].X.(mapArg)
		s := ma.ref.Load()
		i, ok := -1, false
		switch ma.m {
		case pattern.Int:
			i, ok = s.MatchInt(v.Int)
		case pattern.IP:
			i, ok = s.MatchAddr(v.Addr)
		default:
			i, ok = s.MatchBytes(v.B)
		}
		if !ok {
			if a[1].X == nil {
				return false
			}
			*v = a[1].X.(Value)
			return true
		}
		*v = Str(sbytes(s.Entries[i].Value))
		return c.Cast(v, out)
	}
}
