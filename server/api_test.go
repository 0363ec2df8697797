package server

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

func TestTokenTTL(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string // a JSON value, "" for absent
		want int64
		ok   bool
	}{
		{"", DefaultTokenTTL, true},
		{"null", DefaultTokenTTL, true},
		{"360", 360, true},
		{"86400", 86400, true},
		{"3600.0", 3600, true},
		{"1e3", 1000, true},
		{`"7200"`, 7200, true},
		{`" 600 "`, 600, true},
		{"359", 0, false},
		{"86401", 0, false},
		{"0", 0, false},
		{"-600", 0, false},
		{"600.5", 0, false},
		{`"soon"`, 0, false},
		{`""`, 0, false},
		{"true", 0, false},
		{"[600]", 0, false},
		{`{"s":600}`, 0, false},
		{"1e400", 0, false},
	}
	for _, tc := range cases {
		var in struct {
			ExpiresIn any `json:"expires_in"`
		}
		body := "{}"
		if tc.in != "" {
			body = `{"expires_in":` + tc.in + `}`
		}
		ctx := postCtx(body, "application/json")
		if err := decode(ctx, &in); err != nil {
			if tc.ok {
				t.Errorf("decode(%s) = %v", body, err)
			}
			continue
		}
		got, ok := tokenTTL(in.ExpiresIn)
		if ok != tc.ok || got != tc.want {
			t.Errorf("tokenTTL(%s) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func postCtx(body, contentType string) *fasthttp.RequestCtx {
	ctx := &fasthttp.RequestCtx{}
	ctx.Request.Header.SetMethod("POST")
	ctx.Request.Header.SetContentType(contentType)
	ctx.Request.SetBodyString(body)
	return ctx
}

func TestDecodeForms(t *testing.T) {
	t.Parallel()
	type in struct {
		UserIDs []any           `json:"user_ids"`
		To      any             `json:"to"`
		Data    json.RawMessage `json:"data"`
	}
	cases := []struct {
		body, ct string
		want     string // the decoded value as JSON, "" for an error
	}{
		{`{"user_ids":[3,"4"],"to":5}`, "application/json", `{"user_ids":[3,"4"],"to":5,"data":null}`},
		{"user_ids%5B0%5D=3&user_ids%5B1%5D=4", "application/x-www-form-urlencoded", `{"user_ids":["3","4"],"to":null,"data":null}`},
		{"user_ids[]=3&user_ids[]=4&to=5", "application/x-www-form-urlencoded", `{"user_ids":["3","4"],"to":"5","data":null}`},
		{"user_ids=3,%204,,&data=%7B%22a%22%3A1%7D", "application/x-www-form-urlencoded", `{"user_ids":["3","4"],"to":null,"data":{"a":1}}`},
		{"--XX\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\n7\r\n--XX--\r\n", "multipart/form-data; boundary=XX", `{"user_ids":null,"to":"7","data":null}`},
		{"to=4&to=5", "application/x-www-form-urlencoded", ""},
		{"to%5B%5D=4", "application/x-www-form-urlencoded", ""},
		{"data=%7Bno", "application/x-www-form-urlencoded", ""},
		{"data%5Ba%5D=1", "application/x-www-form-urlencoded", ""},
		{`[1]`, "application/json", ""},
		{`"x"`, "application/json", ""},
		{``, "application/json", ""},
		{`{"to":`, "application/json", ""},
		{`{"user_ids":"3"}`, "application/json", ""},
	}
	for _, tc := range cases {
		var v in
		err := decode(postCtx(tc.body, tc.ct), &v)
		if tc.want == "" {
			if err == nil {
				t.Errorf("decode(%q, %s) = %+v; want an error", tc.body, tc.ct, v)
			} else if err.Code != "BAD_REQUEST" || err.Message == "" {
				t.Errorf("decode(%q) error = %+v; want BAD_REQUEST with a message", tc.body, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("decode(%q, %s) = %v", tc.body, tc.ct, err)
			continue
		}
		got, _ := json.Marshal(v)
		if string(got) != tc.want {
			t.Errorf("decode(%q, %s) = %s; want %s", tc.body, tc.ct, got, tc.want)
		}
	}
}

// FuzzAPIBody: the backend API's body reader never panics on any body and
// content type, and answers either a value or a BAD_REQUEST with a message.
func FuzzAPIBody(f *testing.F) {
	for _, s := range []struct{ body, ct string }{
		{`{"from":3,"to":"4","text":"x","data":{"a":[1]}}`, "application/json"},
		{"user_ids%5B0%5D=3&to=4&data=%7B%7D", "application/x-www-form-urlencoded"},
		{"--B\r\nContent-Disposition: form-data; name=\"user_ids[]\"\r\n\r\n3\r\n--B--\r\n", "multipart/form-data; boundary=B"},
		{"{", "application/json"},
		{"a[=1&[]=2&]=3", "application/x-www-form-urlencoded"},
	} {
		f.Add(s.body, s.ct)
	}
	f.Fuzz(func(t *testing.T, body, ct string) {
		var in struct {
			From     any             `json:"from"`
			To       any             `json:"to"`
			Text     string          `json:"text"`
			Data     json.RawMessage `json:"data"`
			UserIDs  []any           `json:"user_ids"`
			ExpireIn any             `json:"expires_in"`
		}
		err := decode(postCtx(body, ct), &in)
		if err != nil {
			if err.Code != "BAD_REQUEST" || err.Message == "" {
				t.Fatalf("decode(%q, %q) error = %+v", body, ct, err)
			}
			return
		}
		if len(in.Data) > 0 && !json.Valid(in.Data) {
			t.Fatalf("decode(%q, %q).data = %q is not JSON", body, ct, in.Data)
		}
		if ttl, ok := tokenTTL(in.ExpireIn); ok && (ttl < MinTokenTTL || ttl > MaxTokenTTL) {
			t.Fatalf("tokenTTL(%v) = %d out of range", in.ExpireIn, ttl)
		}
		_, _ = idString(in.From)
		if strings.HasPrefix(ct, "application/x-www-form-urlencoded") || strings.HasPrefix(ct, "multipart/form-data") {
			for _, id := range in.UserIDs {
				if s, ok := id.(string); !ok || s == "" || strings.Contains(s, ",") {
					t.Fatalf("form user_ids item %#v", id)
				}
			}
		}
	})
}

func TestRepeatedKeyDeep(t *testing.T) {
	for in, want := range map[string]string{
		`{"a":1,"b":2}`: "", `{"a":1,"a":2}`: "a", `{"d":{"x":1,"x":2}}`: "x", `{"d":[{"x":1},{"x":2}]}`: "",
		`{"d":[{"x":1,"x":[1,2]}]}`: "x", `{"a":{"b":1},"b":2}`: "", `{"a":{"b":{}},"a":1}`: "a", `[1,{"q":1,"q":1}]`: "q",
		`{"a":`: "", `{"a":1,"a"`: "a",
	} {
		if k, _ := repeatedKeyDeep([]byte(in)); k != want {
			t.Errorf("repeatedKeyDeep(%s) = %q; want %q", in, k, want)
		}
	}
}

func FuzzRepeatedKeyDeep(f *testing.F) {
	for _, s := range []string{`{"a":1,"a":2}`, `{"d":{"x":[1,{"y":2,"y":3}]}}`, `[[[`, `{"a":"\u0041","A":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if k, dup := repeatedKeyDeep(b); dup && !strings.Contains(string(b), k) && !strings.Contains(string(b), `\`) {
			t.Fatalf("repeatedKeyDeep(%q) = %q, a key not in the body", b, k)
		}
	})
}
