package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"pollchat/config"
)

// MaxUsersInfoBytes bounds a users-info answer.
const MaxUsersInfoBytes = 4 << 20

// AnswerStartBytes is how much of an unusable users-info answer its error
// (and so the outage log line) shows, so that an admin sees the PHP notice
// or the HTML page the script printed.
const AnswerStartBytes = 160

// maxSkippedLogged bounds the skipped elements named in one log line.
const maxSkippedLogged = 5

// HTTPSource asks the host site's users-info URL (docs/protocol.md section 7,
// the ImbaChat format): GET {url}?user_ids=1,2,3 with Basic auth, answered
// by a JSON array of objects with user_id and name; other fields are passed
// through to the widget.
type HTTPSource struct {
	url      string
	login    string
	password string
	client   *http.Client

	// Log receives a line for each answer with skipped elements; nil
	// means slog.Default().
	Log *slog.Logger
}

var (
	_ Source  = (*HTTPSource)(nil)
	_ Checker = (*HTTPSource)(nil)
)

// SearchingHTTPSource is an HTTPSource that can also search, by asking
// users.http.search_url: GET {search_url}?q=…&limit=… with the same Basic
// auth, answered in the users-info format (a JSON array of users, best
// first). NewSource returns one when search_url is set; a plain
// HTTPSource is not a Searcher.
type SearchingHTTPSource struct {
	*HTTPSource
	searchURL string
}

// NewSearchingHTTPSource returns a source for cfg that searches at
// cfg.SearchURL.
func NewSearchingHTTPSource(cfg config.UsersHTTP) *SearchingHTTPSource {
	return &SearchingHTTPSource{HTTPSource: NewHTTPSource(cfg), searchURL: cfg.SearchURL}
}

// Search asks the search URL for query. The answer is read as users-info
// answers are (the same tolerance, the same refusals: a PHP notice before
// the JSON makes it an error that shows the notice); its order is kept,
// and at most limit users are used.
func (s *SearchingHTTPSource) Search(ctx context.Context, query string, limit int) ([]User, error) {
	if limit <= 0 {
		return nil, nil
	}
	u, err := url.Parse(s.searchURL)
	if err != nil || s.searchURL == "" {
		return nil, &UsersInfoError{Err: fmt.Errorf("users.http.search_url: not a URL: %q", s.searchURL)}
	}
	q := u.Query()
	q.Set("q", query)
	q.Set("limit", strconv.Itoa(limit))
	u.RawQuery = q.Encode()
	body, status, err := s.get(ctx, u, "users.http.search_url")
	if err != nil {
		return nil, err
	}
	found, skipped, err := ParseUsersFound(body, limit)
	if err != nil {
		return nil, &UsersInfoError{Status: status, Err: fmt.Errorf("search: %w; the answer starts: %s", err, sanitizedStart(body, AnswerStartBytes))}
	}
	if len(skipped) > 0 {
		s.logSkipped(skipped)
	}
	return found, nil
}

// NewHTTPSource returns a source for cfg; zero Timeout means 5s.
func NewHTTPSource(cfg config.UsersHTTP) *HTTPSource {
	timeout := cfg.Timeout.Duration
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 8
	tr.ResponseHeaderTimeout = timeout
	return &HTTPSource{
		url:      cfg.URL,
		login:    cfg.Login,
		password: cfg.Password,
		client:   &http.Client{Timeout: timeout, Transport: tr},
	}
}

// UsersInfoError is a users-info call that failed: transport, status or
// body. It unwraps to the cause.
type UsersInfoError struct {
	Status int // HTTP status, 0 if none came
	Err    error
}

func (e *UsersInfoError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("bridge: users-info: HTTP %d: %v", e.Status, e.Err)
	}
	return "bridge: users-info: " + e.Err.Error()
}

func (e *UsersInfoError) Unwrap() error { return e.Err }

// Lookup asks the users-info URL for ids (at most MaxBatch per call).
func (s *HTTPSource) Lookup(ctx context.Context, ids []string) (map[string]User, error) {
	want := make([]string, 0, len(ids))
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if !seen[id] && config.ValidUserID(id) == nil {
			seen[id] = true
			want = append(want, id)
		}
	}
	out := make(map[string]User, len(want))
	for len(want) > 0 {
		n := min(len(want), MaxBatch)
		m, err := s.call(ctx, want[:n])
		if err != nil {
			return nil, err
		}
		for id, u := range m {
			out[id] = u
		}
		want = want[n:]
	}
	return out, nil
}

func (s *HTTPSource) call(ctx context.Context, ids []string) (map[string]User, error) {
	u, err := url.Parse(s.url)
	if err != nil {
		return nil, &UsersInfoError{Err: fmt.Errorf("users.http.url: %w", err)}
	}
	q := u.Query()
	q.Set("user_ids", strings.Join(ids, ","))
	u.RawQuery = q.Encode()
	body, status, err := s.get(ctx, u, "users.http.url")
	if err != nil {
		return nil, err
	}
	m, skipped, err := ParseUsersInfo(body, ids)
	if err != nil {
		return nil, &UsersInfoError{Status: status, Err: fmt.Errorf("%w; the answer starts: %s", err, sanitizedStart(body, AnswerStartBytes))}
	}
	if len(skipped) > 0 {
		s.logSkipped(skipped)
	}
	return m, nil
}

// get asks u with the users-info credentials and returns a 200 answer's
// body (at most MaxUsersInfoBytes); key names the setting in errors.
func (s *HTTPSource) get(ctx context.Context, u *url.URL, key string) ([]byte, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, 0, &UsersInfoError{Err: err}
	}
	if s.login != "" || s.password != "" {
		req.SetBasicAuth(s.login, s.password)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "pollchat")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, 0, &UsersInfoError{Err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxUsersInfoBytes+1))
	if err != nil {
		return nil, resp.StatusCode, &UsersInfoError{Status: resp.StatusCode, Err: fmt.Errorf("reading the answer: %w", err)}
	}
	if resp.StatusCode != http.StatusOK {
		msg := "want 200"
		switch resp.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			msg = "users.http.login / users.http.password refused"
		case http.StatusNotFound:
			msg = key + " not found"
		}
		return nil, resp.StatusCode, &UsersInfoError{Status: resp.StatusCode, Err: fmt.Errorf("%s; the answer starts: %s", msg, sanitizedStart(body, AnswerStartBytes))}
	}
	if len(body) > MaxUsersInfoBytes {
		return nil, resp.StatusCode, &UsersInfoError{Status: resp.StatusCode, Err: fmt.Errorf("answer over %d bytes", MaxUsersInfoBytes)}
	}
	return body, resp.StatusCode, nil
}

func (s *HTTPSource) logSkipped(skipped []SkippedUser) {
	log := s.Log
	if log == nil {
		log = slog.Default()
	}
	parts := make([]string, 0, maxSkippedLogged)
	for _, sk := range skipped[:min(len(skipped), maxSkippedLogged)] {
		parts = append(parts, sk.String())
	}
	log.Warn("bridge: users-info: skipped elements of the answer; the others are used",
		"count", len(skipped), "skipped", strings.Join(parts, "; "))
}

// Check asks the URL for one user id and checks the answer's form.
func (s *HTTPSource) Check(ctx context.Context) error {
	if _, err := url.Parse(s.url); err != nil || s.url == "" {
		return fmt.Errorf("bridge: users.http.url: not a URL: %q", s.url)
	}
	_, err := s.call(ctx, []string{"1"})
	return err
}

// SkippedUser is one element of a users-info answer that could not be
// used (not an object, no valid user_id); the rest of the answer is.
type SkippedUser struct {
	Index  int    // position in the answer, from 0
	UserID string // as far as it could be read; "" if not at all
	Reason string
}

func (s SkippedUser) String() string {
	if s.UserID != "" {
		return fmt.Sprintf("element %d (user_id %q): %s", s.Index, s.UserID, s.Reason)
	}
	return fmt.Sprintf("element %d: %s", s.Index, s.Reason)
}

// ParseUsersInfo reads a users-info answer: a JSON array of objects, each
// with user_id (a string or an integer) and name; optionally avatar_url,
// profile_url and role; other fields go to User.Extra. Users not asked for
// are ignored.
//
// It takes what PHP scripts really write. Optional fields may be false,
// null or "" (ImbaChat's own script sends "avatar_url": false); a number
// stands for its digits where a string is expected (name), and role is
// matched in any case. avatar_url and profile_url that are not http(s)
// URLs are dropped (SafeURL). An object of objects, which json_encode
// makes of an array keyed by user id, is read as the list of its values.
// An element without a usable user_id, or not an object, is skipped and
// reported in skipped; the others are used.
//
// The answer as a whole is an error when it is not such a list:
// truncated, HTML, a PHP notice printed before the JSON, an object with an
// error. A UTF-8 BOM, as PHP files saved by some editors emit, is skipped.
func ParseUsersInfo(body []byte, asked []string) (users map[string]User, skipped []SkippedUser, err error) {
	want := make(map[string]bool, len(asked))
	for _, id := range asked {
		want[id] = true
	}
	list, skipped, err := parseUsers(body, func(id string) bool { return want[id] }, len(asked))
	if err != nil {
		return nil, nil, err
	}
	out := make(map[string]User, len(list))
	for _, u := range list {
		out[u.ID] = u
	}
	return out, skipped, nil
}

// ParseUsersFound reads the answer of a users.http.search_url: the
// users-info format (ParseUsersInfo), every user kept in the answer's
// order, up to limit.
func ParseUsersFound(body []byte, limit int) ([]User, []SkippedUser, error) {
	return parseUsers(body, nil, limit)
}

// parseUsers reads a users-info answer into its users, in order, keeping
// those want says yes to (all when want is nil), at most limit.
func parseUsers(body []byte, want func(id string) bool, limit int) (users []User, skipped []SkippedUser, err error) {
	elems, err := usersInfoElements(body)
	if err != nil {
		return nil, nil, err
	}
	out := make([]User, 0, min(len(elems), limit))
	seen := make(map[string]bool, min(len(elems), limit))
	for i, el := range elems {
		var obj map[string]json.RawMessage
		if len(el) == 0 || el[0] != '{' || json.Unmarshal(el, &obj) != nil {
			skipped = append(skipped, SkippedUser{Index: i, Reason: "not an object"})
			continue
		}
		id, err := usersInfoID(obj["user_id"])
		if err != nil {
			skipped = append(skipped, SkippedUser{Index: i, Reason: "user_id: " + err.Error()})
			continue
		}
		if want != nil && !want(id) {
			continue
		}
		if seen[id] {
			skipped = append(skipped, SkippedUser{Index: i, UserID: id, Reason: "user_id repeated; the first one is used"})
			continue
		}
		if len(out) >= limit {
			continue
		}
		seen[id] = true
		u := User{ID: id, Name: phpString(obj["name"]), Role: RoleMember}
		for k, v := range obj {
			switch k {
			case "user_id", "name":
			case "avatar_url":
				u.AvatarURL = SafeURL(phpString(v))
			case "profile_url":
				u.ProfileURL = SafeURL(phpString(v))
			case "role":
				u.Role = mapRole(phpString(v))
			default:
				if u.Extra == nil {
					u.Extra = make(map[string]json.RawMessage)
				}
				u.Extra[k] = append(json.RawMessage(nil), v...)
			}
		}
		out = append(out, u)
	}
	return out, skipped, nil
}

// usersInfoElements splits a users-info answer into its elements: those
// of a JSON array, or the values of a JSON object whose values are all
// objects (PHP's json_encode of an array with non-sequential keys).
func usersInfoElements(body []byte) ([]json.RawMessage, error) {
	body = bytes.TrimLeft(body, " \t\r\n")
	body = bytes.TrimLeft(bytes.TrimPrefix(body, []byte("\xef\xbb\xbf")), " \t\r\n")
	if len(body) == 0 {
		return nil, errors.New("answer is empty, want a JSON array of users")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var elems []json.RawMessage
	switch body[0] {
	case '[':
		if err := dec.Decode(&elems); err != nil {
			return nil, fmt.Errorf("answer is not a JSON array of users: %w", err)
		}
	case '{':
		var obj map[string]json.RawMessage
		if err := dec.Decode(&obj); err != nil {
			return nil, fmt.Errorf("answer is not a JSON array of users: %w", err)
		}
		if len(obj) == 0 {
			return nil, errors.New("answer is an empty object, want a JSON array of users")
		}
		keys := make([]string, 0, len(obj))
		for k, v := range obj {
			if len(v) == 0 || v[0] != '{' {
				return nil, fmt.Errorf("answer is an object with %q, not a JSON array of users", sanitizedStart([]byte(k), 40))
			}
			keys = append(keys, k)
		}
		sort.Strings(keys) // a stable order for the skipped elements' indexes
		for _, k := range keys {
			elems = append(elems, obj[k])
		}
	default:
		return nil, errors.New("answer is not a JSON array of users")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("answer has data after the JSON")
	}
	return elems, nil
}

// phpString reads an optional string field as PHP writes it: a string, a
// number's digits, and "" for false, null, true, arrays and objects.
func phpString(v json.RawMessage) string {
	if len(v) == 0 {
		return ""
	}
	switch c := v[0]; {
	case c == '"':
		var s string
		if json.Unmarshal(v, &s) != nil {
			return ""
		}
		return s
	case c == '-' || c >= '0' && c <= '9':
		return string(v)
	}
	return ""
}

// sanitizedStart is the first bytes of b (at most max) made safe for a log
// line: valid UTF-8, control characters as spaces, runs of spaces as one,
// and "…" when cut.
func sanitizedStart(b []byte, max int) string {
	var sb strings.Builder
	space := false
	for len(b) > 0 && sb.Len() < max {
		r, size := utf8.DecodeRune(b)
		b = b[size:]
		if r == utf8.RuneError && size <= 1 {
			r = '?'
		}
		if unicode.IsControl(r) || unicode.IsSpace(r) || r == '\u2028' || r == '\u2029' {
			if !space && sb.Len() > 0 {
				sb.WriteByte(' ')
			}
			space = true
			continue
		}
		space = false
		sb.WriteRune(r)
	}
	if len(b) > 0 {
		sb.WriteString("…")
	}
	return sb.String()
}

func usersInfoID(v json.RawMessage) (string, error) {
	if len(v) == 0 {
		return "", errors.New("missing")
	}
	var id string
	if v[0] == '"' {
		if err := json.Unmarshal(v, &id); err != nil {
			return "", err
		}
	} else {
		n := strings.TrimSpace(string(v))
		if _, err := strconv.ParseInt(n, 10, 64); err != nil {
			return "", fmt.Errorf("want a string or an integer, got %s", sanitizedStart([]byte(n), 40))
		}
		id = n
	}
	if err := config.ValidUserID(id); err != nil {
		return "", err
	}
	return id, nil
}
