package bridge

import "strconv"

// phpTrueKeys reads a PHP-serialized array such as WordPress's
// capabilities meta (a:1:{s:13:"administrator";b:1;}) and returns its keys
// whose value is true (b:1, a non-zero int, a non-empty string). Anything it
// does not understand yields what was read so far; it never panics.
func phpTrueKeys(s string) []string {
	p := phpParser{s: s}
	if !p.lit("a:") {
		return nil
	}
	n, ok := p.int(':')
	if !ok || n < 0 || n > len(s) || !p.lit("{") {
		return nil
	}
	var keys []string
	for i := 0; i < n; i++ {
		var key string
		switch {
		case p.lit("s:"):
			k, ok := p.str()
			if !ok {
				return keys
			}
			key = k
		case p.lit("i:"):
			k, ok := p.int(';')
			if !ok {
				return keys
			}
			key = strconv.Itoa(k)
		default:
			return keys
		}
		truth, ok := p.value()
		if !ok {
			return keys
		}
		if truth {
			keys = append(keys, key)
		}
	}
	return keys
}

type phpParser struct {
	s string
	i int
}

func (p *phpParser) lit(l string) bool {
	if len(p.s)-p.i >= len(l) && p.s[p.i:p.i+len(l)] == l {
		p.i += len(l)
		return true
	}
	return false
}

// int reads digits (with an optional sign) up to end, consuming end.
func (p *phpParser) int(end byte) (int, bool) {
	j := p.i
	for j < len(p.s) && p.s[j] != end {
		j++
	}
	if j >= len(p.s) || j-p.i > 18 {
		return 0, false
	}
	n, err := strconv.Atoi(p.s[p.i:j])
	if err != nil {
		return 0, false
	}
	p.i = j + 1
	return n, true
}

// str reads LEN:"bytes"; after "s:".
func (p *phpParser) str() (string, bool) {
	n, ok := p.int(':')
	if !ok || n < 0 || n > len(p.s)-p.i-3 {
		return "", false
	}
	if p.s[p.i] != '"' || p.s[p.i+1+n] != '"' || p.s[p.i+2+n] != ';' {
		return "", false
	}
	v := p.s[p.i+1 : p.i+1+n]
	p.i += n + 3
	return v, true
}

// value reads one scalar value and says whether it is truthy. Nested
// arrays are not expected in capabilities and stop the parse.
func (p *phpParser) value() (bool, bool) {
	switch {
	case p.lit("b:"):
		n, ok := p.int(';')
		return n != 0, ok
	case p.lit("i:"):
		n, ok := p.int(';')
		return n != 0, ok
	case p.lit("s:"):
		v, ok := p.str()
		return v != "" && v != "0", ok
	case p.lit("N;"):
		return false, true
	case p.lit("d:"):
		j := p.i
		for j < len(p.s) && p.s[j] != ';' {
			j++
		}
		if j >= len(p.s) {
			return false, false
		}
		f, err := strconv.ParseFloat(p.s[p.i:j], 64)
		p.i = j + 1
		return err == nil && f != 0, err == nil
	}
	return false, false
}
