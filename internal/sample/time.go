package sample

import (
	"errors"
	"regexp"
	"strconv"
	"time"
)

type regexpT = regexp.Regexp

// compileRegexp compiles a pattern, case-insensitively when fold is set.
func compileRegexp(s string, fold bool) (*regexp.Regexp, error) {
	if fold {
		s = "(?i)" + s
	}
	return regexp.Compile(s)
}

// convTime formats a date (seconds since the epoch, plus the offset argument) with a
// strftime(3) format, in local time (ltime) or UTC (utime).
func convTime(utc bool) func(c *Ctx, a []Arg, v *Value) bool {
	return func(c *Ctx, a []Arg, v *Value) bool {
		t := time.Unix(v.Int+a[1].I, 0)
		if utc {
			t = t.UTC()
		} else {
			t = t.Local()
		}
		start := len(c.buf)
		c.buf = AppendStrftime(c.buf, a[0].S, t)
		*v = Str(c.grab(start))
		return true
	}
}

// AppendStrftime appends t formatted with the strftime(3) conversions that log
// formats use; unknown conversions are copied as they are.
func AppendStrftime(b []byte, f string, t time.Time) []byte {
	for i := 0; i < len(f); i++ {
		if f[i] != '%' || i+1 == len(f) {
			b = append(b, f[i])
			continue
		}
		i++
		switch f[i] {
		case 'Y':
			b = strconv.AppendInt(b, int64(t.Year()), 10)
		case 'y':
			b = pad2(b, t.Year()%100)
		case 'm':
			b = pad2(b, int(t.Month()))
		case 'd':
			b = pad2(b, t.Day())
		case 'e':
			if t.Day() < 10 {
				b = append(b, ' ')
			}
			b = strconv.AppendInt(b, int64(t.Day()), 10)
		case 'H':
			b = pad2(b, t.Hour())
		case 'I':
			h := t.Hour() % 12
			if h == 0 {
				h = 12
			}
			b = pad2(b, h)
		case 'M':
			b = pad2(b, t.Minute())
		case 'S':
			b = pad2(b, t.Second())
		case 'j':
			d := t.YearDay()
			b = append(b, byte('0'+d/100), byte('0'+d/10%10), byte('0'+d%10))
		case 'a':
			b = append(b, t.Weekday().String()[:3]...)
		case 'A':
			b = append(b, t.Weekday().String()...)
		case 'b', 'h':
			b = append(b, t.Month().String()[:3]...)
		case 'B':
			b = append(b, t.Month().String()...)
		case 'p':
			if t.Hour() < 12 {
				b = append(b, "AM"...)
			} else {
				b = append(b, "PM"...)
			}
		case 'z':
			b = t.AppendFormat(b, "-0700")
		case 'Z':
			b = t.AppendFormat(b, "MST")
		case 's':
			b = strconv.AppendInt(b, t.Unix(), 10)
		case 'u':
			wd := int(t.Weekday())
			if wd == 0 {
				wd = 7
			}
			b = strconv.AppendInt(b, int64(wd), 10)
		case 'w':
			b = strconv.AppendInt(b, int64(t.Weekday()), 10)
		case 'T':
			b = AppendStrftime(b, "%H:%M:%S", t)
		case 'R':
			b = AppendStrftime(b, "%H:%M", t)
		case 'D':
			b = AppendStrftime(b, "%m/%d/%y", t)
		case 'F':
			b = AppendStrftime(b, "%Y-%m-%d", t)
		case 'c':
			b = AppendStrftime(b, "%a %b %e %H:%M:%S %Y", t)
		case 'n':
			b = append(b, '\n')
		case 't':
			b = append(b, '\t')
		case '%':
			b = append(b, '%')
		default:
			b = append(b, '%', f[i])
		}
	}
	return b
}

func pad2(b []byte, n int) []byte { return append(b, byte('0'+n/10%10), byte('0'+n%10)) }

func checkHTTPDate(a []Arg) error {
	switch a[1].S {
	case "", "s", "ms", "us":
		return nil
	}
	return errors.New("unknown unit '" + a[1].S + "', expected 's', 'ms' or 'us'")
}

// convHTTPDate formats a date as an IMF-fixdate (RFC 9110), with an offset in
// seconds and the input's unit.
func convHTTPDate(c *Ctx, a []Arg, v *Value) bool {
	var t time.Time
	switch a[1].S {
	case "ms":
		t = time.UnixMilli(v.Int)
	case "us":
		t = time.UnixMicro(v.Int)
	default:
		t = time.Unix(v.Int, 0)
	}
	t = t.Add(time.Duration(a[0].I) * time.Second).UTC()
	start := len(c.buf)
	c.buf = t.AppendFormat(c.buf, "Mon, 02 Jan 2006 15:04:05 GMT")
	*v = Str(c.grab(start))
	return true
}

// The HAProxy 2.6 fetches and converters hitless does not have yet: they get "not
// supported yet" rather than "unknown".
var unsupportedFetches = setOf("base32 base32+src req.body req.body_len req.body_size req.body_param " +
	"req.len req_len req.payload req.payload_lv req.rdp_cookie req.rdp_cookie_cnt rdp_cookie " +
	"req.ssl_sni req_ssl_sni req.ssl_ver req_ssl_ver req.ssl_hello_type req.ssl_st_ext req.ssl_ec_ext req.ssl_alpn " +
	"http_auth http_auth_group http_auth_pass http_auth_type http_auth_user http_first_req capture.req.hdr " +
	"capture.res.hdr capture.req.method capture.req.uri capture.req.ver capture.res.ver sc_http_req_rate " +
	"src_conn_cur src_http_req_rate sc0_http_req_rate sc1_http_req_rate sc2_http_req_rate src_conn_rate " +
	"table_cnt table_avl sc_get_gpc0 src_get_gpc0 sc0_get_gpc0 sc_inc_gpc0 src_inc_gpc0 stopping wait_end " +
	"ssl_fc_session_id ssl_c_sha1 ssl_f_sha1 be_server_timeout be_tunnel_timeout cur_server_timeout " +
	"cur_tunnel_timeout fc_rtt fc_rttvar so_id so_name bc_src bc_dst bc_src_port bc_dst_port res.len " +
	"res.payload res.body res.body_len res.cache_hit res.cache_name unique-id txn.timer.user " +
	"req.timer.idle req.timer.tq req.timer.hdr txn.timer.total res.timer.hdr res.timer.data lat_ns_avg " +
	"lat_ns_tot cpu_calls cpu_ns_avg cpu_ns_tot srv_sess_rate srv_conn_free srv_weight srv_iweight srv_uweight " +
	"be_conn_free proc uuid quic_enabled payload payload_lv url32 url32+src baseq queue_avg")

var unsupportedConvs = setOf("map map_str map_beg map_sub map_dir map_dom map_end map_reg map_regm map_ip " +
	"map_int map_str_int map_beg_int map_sub_int map_dir_int map_dom_int map_end_int map_reg_int map_ip_int " +
	"map_int_int map_str_ip map_beg_ip map_sub_ip map_dir_ip map_dom_ip map_end_ip map_reg_ip map_ip_ip " +
	"map_int_ip in_table table_bytes_in_rate table_bytes_out_rate table_conn_cnt table_conn_cur table_conn_rate " +
	"table_gpc0 table_gpc0_rate table_gpc1 table_gpc1_rate table_gpt0 table_http_err_cnt table_http_err_rate " +
	"table_http_req_cnt table_http_req_rate table_kbytes_in table_kbytes_out table_server_id table_sess_cnt " +
	"table_sess_rate table_trackers wt6 aes_gcm_dec protobuf ungrpc da-csv-conv 51d.single " +
	"language capture-req capture-res ltrim rtrim mqtt_field_value mqtt_is_valid " +
	"be2dec be2hex jwt_header_query jwt_payload_query jwt_verify fix_is_valid fix_tag_value " +
	"add_item cut_crlf x509_v_err_str")

func setOf(s string) map[string]bool {
	m := map[string]bool{}
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ' ' {
			if i > start {
				m[s[start:i]] = true
			}
			start = i + 1
		}
	}
	return m
}
