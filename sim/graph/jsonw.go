package graph

import (
	"encoding/base64"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// pageBuffers recycles the buffers of list and delta pages (about 2 MB for 999 applications).
var pageBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 256<<10); return &b }}

// pageWriter returns a writer over a recycled buffer; release gives the buffer back once the body
// has been written.
func pageWriter() (*jw, func()) {
	bp := pageBuffers.Get().(*[]byte)
	w := &jw{b: (*bp)[:0]}
	return w, func() {
		if cap(w.b) <= 16<<20 {
			*bp = w.b[:0]
			pageBuffers.Put(bp)
		}
	}
}

// jw writes JSON into a byte slice without reflection: listing 999 applications per page must stay
// cheap. Members and elements get their commas automatically.
type jw struct {
	b        []byte
	first    []bool // per open object or array: nothing written in it yet
	afterKey bool   // a key was just written: the next value needs no comma
}

// value places the comma before a value, unless it follows a key or opens a container.
func (w *jw) value() {
	if w.afterKey {
		w.afterKey = false
		return
	}
	if n := len(w.first); n > 0 {
		if w.first[n-1] {
			w.first[n-1] = false
			return
		}
		w.b = append(w.b, ',')
	}
}

func (w *jw) objStart() { w.value(); w.b = append(w.b, '{'); w.first = append(w.first, true) }
func (w *jw) objEnd()   { w.b = append(w.b, '}'); w.first = w.first[:len(w.first)-1] }
func (w *jw) arrStart() { w.value(); w.b = append(w.b, '['); w.first = append(w.first, true) }
func (w *jw) arrEnd()   { w.b = append(w.b, ']'); w.first = w.first[:len(w.first)-1] }

func (w *jw) key(k string) {
	w.value()
	w.b = appendString(w.b, k)
	w.b = append(w.b, ':')
	w.afterKey = true
}

func (w *jw) str(s string) { w.value(); w.b = appendString(w.b, s) }
func (w *jw) null()        { w.value(); w.b = append(w.b, "null"...) }
func (w *jw) boolean(v bool) {
	w.value()
	w.b = strconv.AppendBool(w.b, v)
}
func (w *jw) integer(v int64) { w.value(); w.b = strconv.AppendInt(w.b, v, 10) }

// strOrNull writes s, or null when it is empty.
func (w *jw) strOrNull(s string) {
	if s == "" {
		w.null()
		return
	}
	w.str(s)
}

// timeOrNull writes a DateTimeOffset the way Graph does ("2021-09-09T19:50:29.3086381Z"), or null.
func (w *jw) timeOrNull(t time.Time) {
	if t.IsZero() {
		w.null()
		return
	}
	w.value()
	w.b = append(w.b, '"')
	w.b = t.UTC().AppendFormat(w.b, timeLayout)
	w.b = append(w.b, '"')
}

func (w *jw) bytesOrNull(b []byte) {
	if b == nil {
		w.null()
		return
	}
	w.value()
	w.b = append(w.b, '"')
	w.b = base64.StdEncoding.AppendEncode(w.b, b)
	w.b = append(w.b, '"')
}

func (w *jw) strings(ss []string) {
	w.arrStart()
	for _, s := range ss {
		w.str(s)
	}
	w.arrEnd()
}

// timeLayout is how Graph writes DateTimeOffset values: UTC, up to seven fractional digits.
const timeLayout = "2006-01-02T15:04:05.9999999Z07:00"

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				const hex = "0123456789abcdef"
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, `\u202`...)
			b = append(b, "89"[r-'\u2028'])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
