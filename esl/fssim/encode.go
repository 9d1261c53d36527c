package fssim

import (
	"strconv"
	"strings"
)

// urlUnsafe marks the bytes FreeSWITCH's switch_url_encode escapes: control
// characters, non-ASCII, and SWITCH_URL_UNSAFE ("\r\n #%&+:;<=>?@[\]^`{|}\"").
var urlUnsafe = func() (t [256]bool) {
	for i := 0; i < 256; i++ {
		if i < ' ' || i > '~' {
			t[i] = true
		}
	}
	for _, c := range []byte("\r\n #%&+:;<=>?@[\\]^`{|}\"") {
		t[c] = true
	}
	return t
}()

const upperHex = "0123456789ABCDEF"

func isUpperHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'A' && c <= 'F' }

// appendURLEncoded appends s encoded as FreeSWITCH serializes plain event
// header values: unsafe bytes become %XX, except a '%' that already starts an
// upper-case %XX escape (FreeSWITCH does not double-encode).
func appendURLEncoded(dst []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !urlUnsafe[c] {
			continue
		}
		if c == '%' && i+2 < len(s) && isUpperHex(s[i+1]) && isUpperHex(s[i+2]) {
			continue
		}
		dst = append(dst, s[start:i]...)
		dst = append(dst, '%', upperHex[c>>4], upperHex[c&15])
		start = i + 1
	}
	return append(dst, s[start:]...)
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// urlDecode reverses appendURLEncoded (and decodes '+' as FreeSWITCH's
// switch_url_decode does not: '+' stays '+').
func urlDecode(s string) string {
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			h, ok1 := unhex(s[i+1])
			l, ok2 := unhex(s[i+2])
			if ok1 && ok2 {
				b = append(b, h<<4|l)
				i += 2
				continue
			}
		}
		b = append(b, s[i])
	}
	return string(b)
}

// appendHeader appends "name: urlencode(value)\n". Empty values are skipped,
// as FreeSWITCH never adds an empty header to an event.
func appendHeader(dst []byte, name, value string) []byte {
	if value == "" {
		return dst
	}
	dst = append(dst, name...)
	dst = append(dst, ':', ' ')
	dst = appendURLEncoded(dst, value)
	return append(dst, '\n')
}

// appendHeaderInt appends "name: n\n".
func appendHeaderInt(dst []byte, name string, n int64) []byte {
	dst = append(dst, name...)
	dst = append(dst, ':', ' ')
	dst = strconv.AppendInt(dst, n, 10)
	return append(dst, '\n')
}
