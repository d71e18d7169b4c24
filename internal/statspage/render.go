package statspage

import (
	"html"
	"html/template"
	"io"
	"strconv"
	"strings"
	"time"

	"hitless/internal/runtimeapi"
	"hitless/internal/stats"
)

// column is one cell of the report's tables: its group header, its own header, and
// the `show stat` field it shows (empty cells are what hitless does not measure).
type column struct {
	Group, Name, Field string
}

var columns = []column{
	{"Queue", "Cur", "qcur"}, {"Queue", "Max", "qmax"}, {"Queue", "Limit", "qlimit"},
	{"Session rate", "Cur", "rate"}, {"Session rate", "Max", "rate_max"}, {"Session rate", "Limit", "rate_lim"},
	{"Sessions", "Cur", "scur"}, {"Sessions", "Max", "smax"}, {"Sessions", "Limit", "slim"},
	{"Sessions", "Total", "stot"}, {"Sessions", "LbTot", "lbtot"}, {"Sessions", "Last", "lastsess"},
	{"Bytes", "In", "bin"}, {"Bytes", "Out", "bout"},
	{"Denied", "Req", "dreq"}, {"Denied", "Resp", "dresp"},
	{"Errors", "Req", "ereq"}, {"Errors", "Conn", "econ"}, {"Errors", "Resp", "eresp"},
	{"Warnings", "Retr", "wretr"}, {"Warnings", "Redis", "wredis"},
	{"Server", "Status", "status"}, {"Server", "LastChk", "check_status"}, {"Server", "Wght", "weight"},
	{"Server", "Act", "act"}, {"Server", "Bck", "bck"}, {"Server", "Chk", "chkfail"}, {"Server", "Dwn", "chkdown"},
	{"Server", "Dwntme", "downtime"}, {"Server", "Thrtle", "throttle"},
}

// groups are the header's first line: each group with its width.
type group struct {
	Name string
	Span int
}

var groups = func() []group {
	var gs []group
	for _, c := range columns {
		if n := len(gs); n > 0 && gs[n-1].Name == c.Group {
			gs[n-1].Span++
			continue
		}
		gs = append(gs, group{c.Group, 1})
	}
	return gs
}()

type cell struct {
	Text, Title string
}

type row struct {
	Name   string
	Class  string // the state colour
	Server bool   // a server line (gets a checkbox in admin mode)
	// Cells is the row's <td> elements, escaped here: the template would spend most
	// of a large page's time escaping cell by cell through reflection.
	Cells template.HTML
}

type table struct {
	Name    string
	ID      int
	Rows    []row
	Servers bool // has server lines
}

type view struct {
	Version      string
	Pid          string
	Node, Desc   string
	Info         []runtimeapi.Field
	Message      string
	MessageClass string
	URI          string
	Scope        string // the filter typed in the scope field
	ScopeForm    bool   // a GET form can reach the page (its URI has no query part)
	Up           bool
	Refresh      string // the refresh interval, "" when not refreshing
	CanRefresh   bool
	Admin        bool
	Actions      []struct{ Value, Label string }
	Groups       []group
	Columns      []column
	Tables       []table
}

// infoShown are the `show info` fields of the page's process section.
var infoShown = map[string]bool{"Pid": true, "Uptime": true, "Nbthread": true, "Ulimit-n": true, "Maxconn": true,
	"CurrConns": true, "CumConns": true, "CumReq": true, "Stopping": true}

func (p *Page) render(w io.Writer, o options, admin bool, rows []*stats.Row) error {
	v := view{URI: p.cfg.URI, Up: o.up, Admin: admin, Groups: groups, Columns: columns,
		CanRefresh: p.cfg.Refresh > 0, Scope: o.scope, ScopeForm: !strings.Contains(p.cfg.URI, "?")}
	if !p.cfg.HideVersion {
		v.Version = p.proc.Version
	}
	if p.cfg.Refresh > 0 && !o.norefresh {
		v.Refresh = p.cfg.Refresh.String()
	}
	if p.cfg.ShowNode {
		v.Node = p.cfg.Node
		if v.Node == "" {
			v.Node = hostname()
		}
	}
	if p.cfg.ShowDesc {
		v.Desc = p.cfg.Desc
	}
	if m, ok := statusMessages[o.status]; ok {
		v.Message, v.MessageClass = m.text, m.class
	}
	if p.proc.Info != nil {
		for _, f := range p.proc.Info() {
			if f.Name == "Pid" {
				v.Pid = f.Value
			}
			if infoShown[f.Name] {
				v.Info = append(v.Info, f)
			}
		}
	}
	for _, a := range adminActions {
		v.Actions = append(v.Actions, struct{ Value, Label string }{a.value, a.label})
	}
	for _, r := range rows {
		px := r.Text("pxname")
		if n := len(v.Tables); n == 0 || v.Tables[n-1].Name != px {
			id, _ := r.Int("iid")
			v.Tables = append(v.Tables, table{Name: px, ID: int(id)})
		}
		t := &v.Tables[len(v.Tables)-1]
		t.Rows = append(t.Rows, viewRow(r))
		if r.Text("type") == "2" {
			t.Servers = true
		}
	}
	return pageTemplate.Execute(w, v)
}

// viewRow turns one `show stat` row into cells.
func viewRow(r *stats.Row) row {
	out := row{Name: r.Text("svname"), Server: r.Text("type") == "2", Class: rowClass(r)}
	switch r.Text("type") {
	case "0":
		out.Name = "Frontend"
	case "1":
		out.Name = "Backend"
	}
	var b strings.Builder
	for _, c := range columns {
		cl := cell{Text: r.Text(c.Field)}
		switch c.Field {
		case "status":
			if s, ok := r.Int("lastchg"); ok {
				cl.Text = duration(s) + " " + cl.Text
			}
		case "check_status":
			cl.Title = r.Text("check_desc")
			if d := r.Text("check_duration"); d != "" && cl.Text != "" {
				cl.Text += " in " + d + "ms"
			}
		case "act", "bck":
			if out.Server {
				cl.Text = map[string]string{"1": "Y", "0": "-"}[cl.Text]
			}
		case "lastsess", "downtime":
			if s, ok := r.Int(c.Field); ok && s >= 0 {
				cl.Text = duration(s)
			}
		}
		b.WriteString("<td")
		if cl.Title != "" {
			b.WriteString(` title="` + html.EscapeString(cl.Title) + `"`)
		}
		b.WriteString(">" + html.EscapeString(cl.Text) + "</td>")
	}
	out.Cells = template.HTML(b.String())
	return out
}

// rowClass is the colour of a row: its state, and for servers active or backup.
func rowClass(r *stats.Row) string {
	status := r.Text("status")
	switch r.Text("type") {
	case "0":
		if status == "OPEN" {
			return "up"
		}
		return "down"
	case "1":
		if strings.HasPrefix(status, "UP") {
			return "up"
		}
		return "down"
	}
	kind := "active"
	if r.Text("bck") == "1" {
		kind = "backup"
	}
	switch {
	case strings.HasPrefix(status, "MAINT"):
		return "maint"
	case status == "DRAIN":
		return kind + " drain"
	case status == "no check":
		return kind + " nocheck"
	case strings.HasPrefix(status, "UP"):
		return kind + " up"
	}
	return kind + " down"
}

// duration formats seconds as HAProxy's page does: 1d2h, 3h4m, 5m6s, 7s.
func duration(s int64) string {
	d := time.Duration(s) * time.Second
	days, h, m, sec := s/86400, s/3600%24, s/60%60, s%60
	switch {
	case d >= 24*time.Hour:
		return strconv.FormatInt(days, 10) + "d" + strconv.FormatInt(h, 10) + "h"
	case d >= time.Hour:
		return strconv.FormatInt(h, 10) + "h" + strconv.FormatInt(m, 10) + "m"
	case d >= time.Minute:
		return strconv.FormatInt(m, 10) + "m" + strconv.FormatInt(sec, 10) + "s"
	}
	return strconv.FormatInt(sec, 10) + "s"
}

var pageTemplate = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Statistics Report for hitless{{with .Node}} on {{.}}{{end}}</title>
<style>
body{font:12px/1.35 arial,helvetica,sans-serif;margin:12px;color:#222;background:#fff}
h1{font-size:20px;margin:0 0 2px}h1 small{font-weight:normal;color:#666;font-size:13px}
h2{font-size:15px;margin:18px 0 4px}
.top{display:flex;gap:28px;flex-wrap:wrap;align-items:flex-start}
table{border-collapse:collapse}
.info td,.info th{padding:1px 8px 1px 0;text-align:left}.info th{font-weight:normal;color:#666}
.legend span{display:inline-block;padding:1px 6px;margin:0 4px 3px 0;border:1px solid #bbb}
.links a{margin-right:14px}
.msg{padding:6px 10px;margin:10px 0;border:1px solid}.msg.ok{background:#e6f6e6;border-color:#6a6}
.msg.warn{background:#fff6d6;border-color:#c9a227}.msg.err{background:#fbe3e3;border-color:#c55}
.px{margin:14px 0 4px;border:1px solid #999;min-width:100%}
.px caption{text-align:left;font-weight:bold;font-size:13px;padding:2px 3px;background:#4a5a8c;color:#fff}
.px caption a{color:#fff}
.px th,.px td{font-size:10px}
.px th{background:#dde2ee;font-weight:600;padding:2px 3px;border:1px solid #b8bfd0}
.px td{padding:2px 3px;border:1px solid #d0d0d0;text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
.px td.name{text-align:left;font-weight:600}
tr.up td{background:#c8f0c8}tr.down td{background:#f4b4b4}tr.maint td{background:#c8b4e6}
tr.drain td{background:#b4d4f4}tr.nocheck td{background:#e4eee0}
tr.backup.up td{background:#c8e4f8}tr.backup.down td{background:#f8d8c0}tr.backup.nocheck td{background:#e8eef4}
tr.front td,tr.back td{font-weight:600}
.admin{margin:4px 0 10px}
</style></head>
<body>
<h1>hitless{{with .Version}} <small>version {{.}}</small>{{end}}</h1>
<div>Statistics Report{{with .Pid}} for pid {{.}}{{end}}{{with .Node}} on <b>{{.}}</b>{{end}}{{with .Desc}} &mdash; {{.}}{{end}}</div>
{{with .Message}}<div class="msg {{$.MessageClass}}">{{.}}</div>{{end}}
<div class="top">
<div><h2>General process information</h2><table class="info">{{range .Info}}<tr><th>{{.Name}}</th><td>{{.Value}}</td></tr>{{end}}</table></div>
<div><h2>Legend</h2><div class="legend">
<span style="background:#c8f0c8">active UP</span><span style="background:#c8e4f8">backup UP</span><span style="background:#f4b4b4">active DOWN</span><span style="background:#f8d8c0">backup DOWN</span><br>
<span style="background:#b4d4f4">DRAIN</span><span style="background:#c8b4e6">MAINT</span><span style="background:#e4eee0">not checked</span>
</div></div>
<div><h2>Display options</h2><div class="links">
{{if .Up}}<a href="{{.URI}}">Show all servers</a>{{else}}<a href="{{.URI}};up">Hide 'DOWN' servers</a>{{end}}
{{if .CanRefresh}}{{if .Refresh}}<a href="{{.URI}};norefresh">Disable refresh</a>{{else}}<a href="{{.URI}}">Enable refresh</a>{{end}}{{end}}
<a href="{{.URI}}{{if .Up}};up{{end}}{{if and .CanRefresh (not .Refresh)}};norefresh{{end}}">Refresh now</a>
<a href="{{.URI}};csv;norefresh">CSV export</a>
{{if .ScopeForm}}<form method="get" action="{{.URI}}" style="margin-top:6px">Scope: <input name="scope" value="{{.Scope}}" size="12" maxlength="40"> <input type="submit" value="Filter"></form>{{end}}
</div></div>
</div>
{{range $t := .Tables}}
{{if and $.Admin $t.Servers}}<form method="post" action="{{$.URI}}">{{end}}
<table class="px" id="{{$t.Name}}">
<caption><a href="#{{$t.Name}}">{{$t.Name}}</a></caption>
<thead><tr>{{if and $.Admin $t.Servers}}<th rowspan="2"></th>{{end}}<th rowspan="2"></th>{{range $.Groups}}<th colspan="{{.Span}}">{{.Name}}</th>{{end}}</tr>
<tr>{{range $.Columns}}<th>{{.Name}}</th>{{end}}</tr></thead>
<tbody>
{{range $t.Rows}}<tr class="{{.Class}}{{if not .Server}}{{if eq .Name "Frontend"}} front{{else}} back{{end}}{{end}}">{{if and $.Admin $t.Servers}}<td>{{if .Server}}<input type="checkbox" name="s" value="{{.Name}}" aria-label="{{.Name}}">{{end}}</td>{{end}}<td class="name">{{.Name}}</td>{{.Cells}}</tr>
{{end}}</tbody></table>
{{if and $.Admin $t.Servers}}<div class="admin">Choose the action to perform on the checked servers:
<select name="action"><option value=""></option>{{range $.Actions}}<option value="{{.Value}}">{{.Label}}</option>{{end}}</select>
<input type="hidden" name="b" value="#{{$t.ID}}"> <input type="submit" value="Apply"></div></form>{{end}}
{{end}}
</body></html>
`))
