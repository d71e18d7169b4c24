package acl

import (
	"fmt"
	"strings"
	"sync"
)

// predefinedDefs are HAProxy 2.6's predefined ACLs, each an ACL expression.
var predefinedDefs = map[string]string{
	"TRUE":           "always_true",
	"FALSE":          "always_false",
	"LOCALHOST":      "src 127.0.0.1/8 ::1",
	"HTTP":           "req.proto_http",
	"HTTP_1.0":       "req.ver 1.0",
	"HTTP_1.1":       "req.ver 1.1",
	"HTTP_2.0":       "req.ver 2.0",
	"HTTP_CONTENT":   "req.hdr_val(content-length) gt 0",
	"HTTP_URL_ABS":   "url_reg ^[^/:]*://",
	"HTTP_URL_SLASH": "url_beg /",
	"HTTP_URL_STAR":  "url *",
	"METH_CONNECT":   "method CONNECT",
	"METH_DELETE":    "method DELETE",
	"METH_GET":       "method GET HEAD",
	"METH_HEAD":      "method HEAD",
	"METH_OPTIONS":   "method OPTIONS",
	"METH_POST":      "method POST",
	"METH_PUT":       "method PUT",
	"METH_TRACE":     "method TRACE",
	"RDP_COOKIE":     "req.rdp_cookie_cnt gt 0",
	"REQ_CONTENT":    "req.len gt 0",
	"WAIT_END":       "wait_end",
}

var predefinedCache sync.Map // name -> []*Def

// predefined returns the definition of a predefined ACL, nil when there is none.
func predefined(name string) ([]*Def, error) {
	if v, ok := predefinedCache.Load(name); ok {
		return v.([]*Def), nil
	}
	src, ok := predefinedDefs[name]
	if !ok {
		return nil, nil
	}
	d, err := parseExpr(strings.Fields(src), nil)
	if err != nil {
		return nil, fmt.Errorf("predefined ACL '%s' : %v", name, err)
	}
	d.Name = name
	defs := []*Def{d}
	predefinedCache.Store(name, defs)
	return defs, nil
}
