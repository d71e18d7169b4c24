package tlsconf

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"strings"
)

// Certificates described in OpenSSL's words: the one-line DN of ssl_c_s_dn, the raw
// ASN.1 dates of ssl_c_notafter, and the fields of `show ssl cert NAME`.

// dnNames are OpenSSL's short names of DN attributes.
var dnNames = map[string]string{
	"2.5.4.3": "CN", "2.5.4.6": "C", "2.5.4.7": "L", "2.5.4.8": "ST", "2.5.4.10": "O", "2.5.4.11": "OU",
	"2.5.4.5": "serialNumber", "2.5.4.9": "street", "2.5.4.12": "title", "2.5.4.42": "GN", "2.5.4.4": "SN",
	"1.2.840.113549.1.9.1": "emailAddress", "0.9.2342.19200300.100.1.25": "DC", "0.9.2342.19200300.100.1.1": "UID",
}

// DN formats a raw distinguished name in OpenSSL's one-line form, "/C=US/O=Test
// CA/CN=Test Root CA", in certificate order; with field set, only the value of the
// last attribute of that name (ssl_c_s_dn(CN)).
func DN(raw []byte, field string) (string, bool) {
	var seq pkix.RDNSequence
	if _, err := asn1.Unmarshal(raw, &seq); err != nil {
		return "", false
	}
	var b strings.Builder
	val := ""
	found := false
	for _, rdn := range seq {
		for _, atv := range rdn {
			oid := atv.Type.String()
			name := dnNames[oid]
			if name == "" {
				name = oid
			}
			v, _ := atv.Value.(string)
			if field != "" {
				if strings.EqualFold(name, field) {
					val, found = v, true
				}
				continue
			}
			b.WriteByte('/')
			b.WriteString(name)
			b.WriteByte('=')
			b.WriteString(v)
		}
	}
	if field != "" {
		return val, found
	}
	return b.String(), true
}

// ASN1Time is a certificate's notAfter (or notBefore) as its raw ASN.1 string:
// YYMMDDhhmmssZ for UTCTime, YYYYMMDDhhmmssZ for GeneralizedTime.
func ASN1Time(tbs []byte, after bool) (string, bool) {
	var t struct {
		Raw          asn1.RawContent
		Version      asn1.RawValue `asn1:"optional,explicit,default:0,tag:0"`
		SerialNumber asn1.RawValue
		SigAlg       asn1.RawValue
		Issuer       asn1.RawValue
		Validity     struct{ NotBefore, NotAfter asn1.RawValue }
	}
	if _, err := asn1.UnmarshalWithParams(tbs, &t, ""); err != nil {
		return "", false
	}
	v := t.Validity.NotBefore
	if after {
		v = t.Validity.NotAfter
	}
	return string(v.Bytes), true
}

// Describe is the body of `show ssl cert NAME` for a certificate (HAProxy 2.6's
// fields and formats); status is "Used" or "Unused", name as it should be shown.
func Describe(name, status string, c *Cert) string {
	leaf := c.Leaf
	var b strings.Builder
	fmt.Fprintf(&b, "Filename: %s\nStatus: %s\n", name, status)
	fmt.Fprintf(&b, "Serial: %X\n", leaf.SerialNumber.Bytes())
	const opensslTime = "Jan _2 15:04:05 2006 GMT"
	fmt.Fprintf(&b, "notBefore: %s\nnotAfter: %s\n", leaf.NotBefore.UTC().Format(opensslTime), leaf.NotAfter.UTC().Format(opensslTime))
	var sans []string
	for _, n := range leaf.DNSNames {
		sans = append(sans, "DNS:"+n)
	}
	fmt.Fprintf(&b, "Subject Alternative Name: %s\n", strings.Join(sans, ", "))
	fmt.Fprintf(&b, "Algorithm: %s\n", algorithm(leaf))
	fmt.Fprintf(&b, "SHA1 FingerPrint: %X\n", sha1.Sum(leaf.Raw))
	subj, _ := DN(leaf.RawSubject, "")
	iss, _ := DN(leaf.RawIssuer, "")
	fmt.Fprintf(&b, "Subject: %s\nIssuer: %s\n", subj, iss)
	for _, der := range c.Cert.Certificate[1:] {
		if x, err := x509.ParseCertificate(der); err == nil {
			cs, _ := DN(x.RawSubject, "")
			ci, _ := DN(x.RawIssuer, "")
			fmt.Fprintf(&b, "Chain Subject: %s\nChain Issuer: %s\n", cs, ci)
		}
	}
	b.WriteString("OCSP Response Key: \n")
	return b.String()
}

func algorithm(c *x509.Certificate) string {
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA%d", k.N.BitLen())
	case *ecdsa.PublicKey:
		return fmt.Sprintf("EC%d", k.Curve.Params().BitSize)
	}
	return "Unknown"
}
