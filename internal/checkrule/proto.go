package checkrule

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// Option is one `option X` that selects a protocol check: it builds the ruleset
// HAProxy 2.6 runs for it from the option's arguments.
type Option struct {
	build func(args []string) (*Ruleset, error)
}

// Options are the protocol checks, by option name. Each ruleset sends the same bytes as
// HAProxy 2.6's and words its verdicts the same way.
var Options = map[string]Option{
	"redis-check":   {redisCheck},
	"ssl-hello-chk": {sslHelloCheck},
	"smtpchk":       {smtpCheck},
	"pgsql-check":   {pgsqlCheck},
	"mysql-check":   {mysqlCheck},
	"ldap-check":    {ldapCheck},
}

// Build makes the ruleset of a protocol check option.
func (o Option) Build(args []string) (*Ruleset, error) {
	rs, err := o.build(args)
	if err != nil {
		return nil, err
	}
	if err := rs.Finish(nil); err != nil {
		return nil, err
	}
	return rs, nil
}

// mustRules parses the built-in rule lines; they are constants, so an error is a bug.
func mustRules(kind string, lines ...[]string) *Ruleset {
	rs := &Ruleset{Kind: kind}
	for _, l := range lines {
		r, err := Parse(append([]string{"tcp-check"}, l...))
		if err != nil {
			panic(fmt.Sprintf("checkrule: built-in %s rule %q: %v", kind, l, err))
		}
		rs.Rules = append(rs.Rules, r)
	}
	return rs
}

func noArgs(name string, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("'%s' cannot handle unexpected argument '%s'.", name, args[0])
	}
	return nil
}

func redisCheck(args []string) (*Ruleset, error) {
	if err := noArgs("redis-check", args); err != nil {
		return nil, err
	}
	return mustRules("redis-check",
		[]string{"send", "*1\r\n$4\r\nPING\r\n"},
		[]string{"expect", "string", "+PONG\r\n", "error-status", "L7STS",
			"on-error", "%[res.payload(0,0),cut_crlf]", "on-success", "Redis server is ok"},
	), nil
}

func sslHelloCheck(args []string) (*Ruleset, error) {
	if err := noArgs("ssl-hello-chk", args); err != nil {
		return nil, err
	}
	rs := mustRules("ssl-hello-chk",
		[]string{"expect", "rbinary", "^1[56]", "min-recv", "5", "ok-status", "L6OK",
			"error-status", "L6RSP", "tout-status", "L6TOUT"})
	// The SSLv3 CLIENT HELLO, in hex: record and handshake headers, the current
	// time, HAProxy's fixed 28 "random" bytes, no session, 39 cipher suites and the
	// NULL compression. It is assembled here: its random part holds newlines.
	f := &Format{src: "SSLv3 CLIENT HELLO", parts: []fmtPart{
		{lit: "160300007901000075" + "0300"},
		{expr: mustExpr("date(),htonl,hex")},
		{lit: strings.ToUpper(hex.EncodeToString([]byte("HAPROXYSSLCHK\nHAPROXYSSLCHK\n")))},
		{lit: "00004E" + sslCiphers + "0100"},
	}}
	send := &Rule{Action: Send, Send: &SendRule{Format: f, Binary: true}}
	rs.Rules = append([]*Rule{send}, rs.Rules...)
	return rs, nil
}

// sslCiphers are the 39 cipher suites the SSLv3 hello offers.
var sslCiphers = func() string {
	var b strings.Builder
	for _, c := range []int{0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d,
		0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b,
		0x2f, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a} {
		fmt.Fprintf(&b, "%04X", c)
	}
	return b.String()
}()

func mustExpr(s string) *Expr {
	e, err := ParseExpr(s)
	if err != nil {
		panic(fmt.Sprintf("checkrule: built-in expression %q: %v", s, err))
	}
	return e
}

func smtpCheck(args []string) (*Ruleset, error) {
	cmd := "HELO localhost"
	switch {
	case len(args) == 0:
	case len(args) == 2 && (args[0] == "HELO" || args[0] == "EHLO"):
		cmd = args[0] + " " + args[1]
	case len(args) >= 1 && args[0] != "HELO" && args[0] != "EHLO":
		// HAProxy falls back to its default for a verb it does not know.
	default:
		if len(args) == 1 {
			// HELO/EHLO without a domain: the default.
			break
		}
		return nil, fmt.Errorf("'smtpchk' cannot handle unexpected argument '%s'.", args[2])
	}
	rs := mustRules("smtpchk",
		[]string{"connect", "default", "linger"},
		[]string{"expect", "rstring", "^[0-9]{3}[ \r]", "min-recv", "4", "error-status", "L7RSP",
			"on-error", "%[res.payload(0,0),cut_crlf]"},
		[]string{"expect", "rstring", "^2[0-9]{2}[ \r]", "min-recv", "4", "error-status", "L7STS",
			"on-error", "%[res.payload(4,0),ltrim(' '),cut_crlf]", "status-code", "res.payload(0,3)"},
		[]string{"send", cmd + "\r\n"},
		[]string{"expect", "rstring", "^[0-9]{3}[- \r]", "min-recv", "4", "error-status", "L7RSP",
			"on-error", "%[res.payload(0,0),cut_crlf]"},
		[]string{"expect", "rstring", "^2[0-9]{2}[- \r]", "min-recv", "4", "error-status", "L7STS",
			"on-error", "%[res.payload(4,0),ltrim(' '),cut_crlf]", "status-code", "res.payload(0,3)"},
		[]string{"send", "QUIT\r\n"},
		[]string{"expect", "rstring", "^[0-9]{3}[- \r]", "min-recv", "4", "error-status", "L7RSP",
			"on-error", "%[res.payload(0,0),cut_crlf]"},
		[]string{"expect", "rstring", "^2[0-9]{2}[- \r]", "min-recv", "4", "error-status", "L7STS",
			"on-error", "%[res.payload(4,0),ltrim(' '),cut_crlf]",
			"on-success", "%[res.payload(4,0),ltrim(' '),cut_crlf]", "status-code", "res.payload(0,3)"},
	)
	return rs, nil
}

func pgsqlCheck(args []string) (*Ruleset, error) {
	if len(args) != 2 || args[0] != "user" {
		if len(args) == 1 && args[0] == "user" {
			return nil, fmt.Errorf("'pgsql-check' : missing username after 'user'.")
		}
		if len(args) == 0 {
			return nil, fmt.Errorf("'pgsql-check' : 'user' expected (option pgsql-check user <username>).")
		}
		return nil, fmt.Errorf("'pgsql-check' only supports optional values: 'user'.")
	}
	user := args[1]
	// StartupMessage: length, protocol 3.0, "user" NUL name NUL, and the final NUL.
	n := 4 + 4 + len("user") + 1 + len(user) + 1 + 1
	msg := fmt.Sprintf("%08x00030000%s00%s0000", n, hex.EncodeToString([]byte("user")), hex.EncodeToString([]byte(user)))
	return mustRules("pgsql-check",
		[]string{"connect", "default"},
		[]string{"send-binary", msg},
		[]string{"expect", "!rstring", "^E", "min-recv", "5", "error-status", "L7RSP",
			"on-error", "%[res.payload(6,0)]"},
		[]string{"expect", "rbinary", "^52000000[A-Z0-9]{2}000000(00|02|03|04|05|06|07|09|0A)", "min-recv", "9", "error-status", "L7STS",
			"on-success", "PostgreSQL server is ok", "on-error", "PostgreSQL unknown error"},
	), nil
}

func mysqlCheck(args []string) (*Ruleset, error) {
	rs := mustRules("mysql-check", []string{"connect", "default"})
	iniths := &Rule{Action: Expect, Expect: &ExpectRule{Kind: "custom", MinRecv: -1, Custom: mysqlPacket(false)}}
	if len(args) == 0 {
		rs.Rules = append(rs.Rules, iniths)
		return rs, nil
	}
	if args[0] != "user" {
		return nil, fmt.Errorf("'mysql-check' only supports optional values: 'user'.")
	}
	if len(args) < 2 {
		return nil, fmt.Errorf("'mysql-check' : missing username after 'user'.")
	}
	user := hex.EncodeToString([]byte(args[1]))
	post41 := true
	if len(args) == 3 {
		switch args[2] {
		case "post-41":
		case "pre-41":
			post41 = false
		default:
			return nil, fmt.Errorf("'mysql-check' : keyword '%s' unknown (expects 'post-41' or 'pre-41').", args[2])
		}
	} else if len(args) > 3 {
		return nil, fmt.Errorf("'mysql-check' cannot handle unexpected argument '%s'.", args[3])
	}
	// The login packet (sequence 1) with an empty password, then COM_QUIT.
	var body string
	if post41 {
		body = "00820000" + "00800001" + "21" + strings.Repeat("00", 23) + user + "00" + "00"
	} else {
		body = "0080" + "000001" + user + "00" + "00"
	}
	n := len(body) / 2
	pkt := fmt.Sprintf("%02x%02x%02x01", n&0xff, n>>8&0xff, n>>16&0xff) + body + "0100000001"
	send, err := Parse([]string{"tcp-check", "send-binary", pkt})
	if err != nil {
		return nil, err
	}
	ok := &Rule{Action: Expect, Expect: &ExpectRule{Kind: "custom", MinRecv: -1, Custom: mysqlPacket(true)}}
	rs.Rules = append(rs.Rules, send, iniths, ok)
	return rs, nil
}

// mysqlPacket checks a MySQL packet: the server's greeting (after=false) or the
// packet that follows it (the answer to the login). An error packet (0xff) fails with
// L7STS, its code and message; anything else passes, with no message.
func mysqlPacket(after bool) func(env *Env, last bool) CustomResult {
	return func(env *Env, last bool) CustomResult {
		b := env.Buf
		off := 0
		if after {
			if len(b) < 4 {
				return mysqlShort(last)
			}
			off = (int(b[0]) | int(b[1])<<8 | int(b[2])<<16) + 4
		}
		if len(b) < off+5 {
			return mysqlShort(last)
		}
		n := int(b[off]) | int(b[off+1])<<8 | int(b[off+2])<<16
		if len(b) < off+4+n {
			return mysqlShort(last)
		}
		p := b[off+4 : off+4+n]
		if n == 0 {
			return CustomResult{Status: "L7RSP"}
		}
		if p[0] == 0xff {
			code := 0
			msg := ""
			if len(p) >= 3 {
				code = int(p[1]) | int(p[2])<<8
				msg = string(p[3:])
			}
			return CustomResult{Status: "L7STS", Info: msg, Code: code}
		}
		return CustomResult{OK: true, Status: "L7OK"}
	}
}

func mysqlShort(last bool) CustomResult {
	if !last {
		return CustomResult{Wait: true}
	}
	return CustomResult{Status: "L7RSP", Info: ""}
}

func ldapCheck(args []string) (*Ruleset, error) {
	if err := noArgs("ldap-check", args); err != nil {
		return nil, err
	}
	// An anonymous simple bind request, LDAPv3, message id 1.
	rs := mustRules("ldap-check",
		[]string{"send-binary", "300C020101600702010304008000"},
		[]string{"expect", "rbinary", "^30", "min-recv", "14", "on-error", "Not LDAPv3 protocol"},
	)
	rs.Rules = append(rs.Rules, &Rule{Action: Expect, Expect: &ExpectRule{Kind: "custom", MinRecv: -1, Custom: ldapBindResponse}})
	return rs, nil
}

// ldapBindResponse reads the result code of a BindResponse: 0 passes, another fails
// with L7STS and the result code as the check code.
func ldapBindResponse(env *Env, last bool) CustomResult {
	b := env.Buf
	bad := CustomResult{Status: "L7RSP", Info: "Not LDAPv3 protocol"}
	if len(b) < 2 || b[0] != 0x30 {
		return bad
	}
	i := 2
	if b[1]&0x80 != 0 {
		i += int(b[1] & 0x7f)
	}
	// messageID: 02 len id...
	if len(b) < i+2 || b[i] != 0x02 {
		return bad
	}
	i += 2 + int(b[i+1])
	// BindResponse: 61 len...
	if len(b) < i+2 || b[i] != 0x61 {
		return bad
	}
	l := b[i+1]
	i += 2
	if l&0x80 != 0 {
		i += int(l & 0x7f)
	}
	// resultCode: 0a 01 code
	if len(b) < i+3 || b[i] != 0x0a || b[i+1] != 0x01 {
		return bad
	}
	if b[i+2] != 0 {
		return CustomResult{Status: "L7STS", Info: "See RFC: http://tools.ietf.org/html/rfc4511#section-4.1.9", Code: int(b[i+2])}
	}
	return CustomResult{OK: true, Status: "L7OK"}
}
