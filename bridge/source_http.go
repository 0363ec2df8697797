package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"pollchat/config"
)

// MaxUsersInfoBytes bounds a users-info answer.
const MaxUsersInfoBytes = 4 << 20

// HTTPSource asks the host site's users-info URL (PROTOCOL.md section 7,
// the ImbaChat format): GET {url}?user_ids=1,2,3 with Basic auth, answered
// by a JSON array of objects with user_id and name; other fields are passed
// through to the widget.
type HTTPSource struct {
	url      string
	login    string
	password string
	client   *http.Client
}

var (
	_ Source  = (*HTTPSource)(nil)
	_ Checker = (*HTTPSource)(nil)
)

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
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, &UsersInfoError{Err: err}
	}
	if s.login != "" || s.password != "" {
		req.SetBasicAuth(s.login, s.password)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "pollchat")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, &UsersInfoError{Err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxUsersInfoBytes+1))
	if err != nil {
		return nil, &UsersInfoError{Status: resp.StatusCode, Err: fmt.Errorf("reading the answer: %w", err)}
	}
	if resp.StatusCode != http.StatusOK {
		msg := "want 200"
		switch resp.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			msg = "users.http.login / users.http.password refused"
		case http.StatusNotFound:
			msg = "users.http.url not found"
		}
		return nil, &UsersInfoError{Status: resp.StatusCode, Err: errors.New(msg)}
	}
	if len(body) > MaxUsersInfoBytes {
		return nil, &UsersInfoError{Status: resp.StatusCode, Err: fmt.Errorf("answer over %d bytes", MaxUsersInfoBytes)}
	}
	m, err := ParseUsersInfo(body, ids)
	if err != nil {
		return nil, &UsersInfoError{Status: resp.StatusCode, Err: err}
	}
	return m, nil
}

// Check asks the URL for one user id and checks the answer's form.
func (s *HTTPSource) Check(ctx context.Context) error {
	if _, err := url.Parse(s.url); err != nil || s.url == "" {
		return fmt.Errorf("bridge: users.http.url: not a URL: %q", s.url)
	}
	_, err := s.call(ctx, []string{"1"})
	return err
}

// ParseUsersInfo reads a users-info answer: a JSON array of objects, each
// with user_id (a string or an integer) and name (a string), optionally
// avatar_url, profile_url and role (strings); other fields go to
// User.Extra. Users not asked for are ignored. A body that is not such an
// array (truncated, HTML, an object with an error) is an error, as is an
// element without a valid user_id or name. A UTF-8 BOM, as PHP files
// saved by some editors emit, is skipped.
func ParseUsersInfo(body []byte, asked []string) (map[string]User, error) {
	body = bytes.TrimPrefix(bytes.TrimLeft(body, " \t\r\n"), []byte("\xef\xbb\xbf"))
	var raw []map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("answer is not a JSON array of users: %w", err)
	}
	if dec.More() {
		return nil, errors.New("answer has data after the JSON array")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("answer has data after the JSON array")
	}
	if raw == nil && !bytes.HasPrefix(bytes.TrimLeft(body, " \t\r\n"), []byte("[")) {
		return nil, errors.New("answer is null, want a JSON array")
	}
	want := make(map[string]bool, len(asked))
	for _, id := range asked {
		want[id] = true
	}
	out := make(map[string]User, len(raw))
	for i, obj := range raw {
		if obj == nil {
			return nil, fmt.Errorf("element %d is not an object", i)
		}
		id, err := usersInfoID(obj["user_id"])
		if err != nil {
			return nil, fmt.Errorf("element %d: user_id: %w", i, err)
		}
		name, ok := jsonString(obj["name"])
		if !ok {
			return nil, fmt.Errorf("element %d (user_id %q): name missing or not a string", i, id)
		}
		if !want[id] {
			continue
		}
		u := User{ID: id, Name: name, Role: RoleMember}
		for k, v := range obj {
			switch k {
			case "user_id", "name":
			case "avatar_url", "profile_url", "role":
				s, ok := jsonString(v)
				if !ok && string(v) != "null" {
					return nil, fmt.Errorf("element %d (user_id %q): %s is not a string", i, id, k)
				}
				switch k {
				case "avatar_url":
					u.AvatarURL = s
				case "profile_url":
					u.ProfileURL = s
				default:
					u.Role = mapRole(s)
				}
			default:
				if u.Extra == nil {
					u.Extra = make(map[string]json.RawMessage)
				}
				u.Extra[k] = append(json.RawMessage(nil), v...)
			}
		}
		out[id] = u
	}
	return out, nil
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
			return "", fmt.Errorf("want a string or an integer, got %.40s", n)
		}
		id = n
	}
	if err := config.ValidUserID(id); err != nil {
		return "", err
	}
	return id, nil
}

func jsonString(v json.RawMessage) (string, bool) {
	if len(v) == 0 || v[0] != '"' {
		return "", false
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", false
	}
	return s, true
}
