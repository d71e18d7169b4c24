package http1

import "testing"

func BenchmarkParseTypicalRequest(b *testing.B) {
	raw := []byte("GET /api/v1/items?id=42&x=y HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8.0\r\nAccept: */*\r\nAccept-Encoding: gzip\r\nCookie: a=b; c=d\r\nConnection: keep-alive\r\n\r\n")
	var r Request
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := ParseRequest(raw, &r); err != nil {
			b.Fatal(err)
		}
	}
}
