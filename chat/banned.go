package chat

import (
	"regexp"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Banned words (chat.banned_words) are masked in messages and requests.

// wordMask masks banned words and phrases with asterisks, one per
// character. A word matches case-insensitively and only as a whole word:
// where it begins or ends with a letter, digit or underscore, the text
// next to it must not be one (any script, not only ASCII, so "дурак" is
// found in "ты дурак!" but not in "дураки", and "c++" in "I like c++").
type wordMask struct {
	any   *regexp.Regexp   // every word, longest first
	words []*regexp.Regexp // each word anchored at the start, longest first
}

// newWordMask compiles words (blank ones are skipped); nil when none is left.
func newWordMask(words []string) *wordMask {
	var ws []string
	for _, w := range words {
		if w = strings.TrimSpace(w); w != "" {
			ws = append(ws, w)
		}
	}
	if len(ws) == 0 {
		return nil
	}
	// Longest first, so that of "dang" and "dang it" the phrase wins.
	sort.SliceStable(ws, func(i, j int) bool { return len(ws[i]) > len(ws[j]) })
	m := &wordMask{words: make([]*regexp.Regexp, len(ws))}
	parts := make([]string, len(ws))
	for i, w := range ws {
		parts[i] = regexp.QuoteMeta(w)
		m.words[i] = regexp.MustCompile(`^(?i:` + parts[i] + `)`)
	}
	m.any = regexp.MustCompile(`(?i:` + strings.Join(parts, "|") + `)`)
	return m
}

func isWordRune(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)
}

// whole reports whether text[start:end] stands as a whole word.
func whole(text string, start, end int) bool {
	if start < end {
		first, _ := utf8.DecodeRuneInString(text[start:])
		if before, n := utf8.DecodeLastRuneInString(text[:start]); n > 0 && isWordRune(first) && isWordRune(before) {
			return false
		}
		last, _ := utf8.DecodeLastRuneInString(text[:end])
		if after, n := utf8.DecodeRuneInString(text[end:]); n > 0 && isWordRune(last) && isWordRune(after) {
			return false
		}
	}
	return start < end
}

// mask returns text with every whole banned word replaced by asterisks.
// A nil mask returns text unchanged.
func (m *wordMask) mask(text string) string {
	if m == nil {
		return text
	}
	var b strings.Builder
	done := 0 // text[:done] is in b
	for pos := 0; pos < len(text); {
		loc := m.any.FindStringIndex(text[pos:])
		if loc == nil {
			break
		}
		start, end := pos+loc[0], pos+loc[1]
		if !whole(text, start, end) {
			// The longest word here is not whole; a shorter one may be.
			end = -1
			for _, w := range m.words {
				if l := w.FindStringIndex(text[start:]); l != nil && whole(text, start, start+l[1]) {
					end = start + l[1]
					break
				}
			}
		}
		if end < 0 {
			_, n := utf8.DecodeRuneInString(text[start:])
			pos = start + max(n, 1)
			continue
		}
		b.WriteString(text[done:start])
		b.WriteString(strings.Repeat("*", utf8.RuneCountInString(text[start:end])))
		done, pos = end, end
	}
	if done == 0 {
		return text
	}
	b.WriteString(text[done:])
	return b.String()
}

func (s *Service) mask(text string) string { return s.banned.mask(text) }
