package bridge

import (
	"encoding/json"
	"strings"
	"testing"

	"pollchat/config"
)

func TestParseUsersInfo(t *testing.T) {
	asked := []string{"1", "2", "abc"}
	tests := []struct {
		body    string
		want    map[string]string // id -> name
		wantErr bool
	}{
		{`[{"user_id":1,"name":"Ann"},{"user_id":"2","name":"Bob","role":"administrator"}]`, map[string]string{"1": "Ann", "2": "Bob"}, false},
		{"\xef\xbb\xbf\n[{\"user_id\":\"abc\",\"name\":\"<script>x</script>\"}]", map[string]string{"abc": "<script>x</script>"}, false},
		{`[{"user_id":9,"name":"Not asked"}]`, map[string]string{}, false},
		{`[]`, map[string]string{}, false},
		{`[{"user_id":1,"name":"Ad`, nil, true},
		{`<br /><b>Warning</b>`, nil, true},
		{`{"error":"db down"}`, nil, true},
		{`null`, nil, true},
		{``, nil, true},
		{`[{"user_id":1}]`, nil, true},
		{`[{"name":"x"}]`, nil, true},
		{`[{"user_id":1.5,"name":"x"}]`, nil, true},
		{`[{"user_id":"a,b","name":"x"}]`, nil, true},
		{`[{"user_id":1,"name":7}]`, nil, true},
		{`[{"user_id":1,"name":"x","avatar_url":5}]`, nil, true},
		{`[null]`, nil, true},
		{`[1]`, nil, true},
		{`[{"user_id":1,"name":"x"}] trailing`, nil, true},
	}
	for _, tt := range tests {
		got, err := ParseUsersInfo([]byte(tt.body), asked)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseUsersInfo(%q) error = %v; want error %v", tt.body, err, tt.wantErr)
			continue
		}
		if err != nil {
			continue
		}
		if len(got) != len(tt.want) {
			t.Errorf("ParseUsersInfo(%q) = %v; want %v", tt.body, got, tt.want)
		}
		for id, name := range tt.want {
			if got[id].Name != name || got[id].ID != id {
				t.Errorf("ParseUsersInfo(%q)[%s] = %+v; want name %q", tt.body, id, got[id], name)
			}
		}
	}
	got, _ := ParseUsersInfo([]byte(`[{"user_id":"2","name":"Bob","role":"administrator","extra":{"a":[1,2]}}]`), asked)
	if got["2"].Role != RoleAdmin || string(got["2"].Extra["extra"]) != `{"a":[1,2]}` {
		t.Errorf("role/extra = %q %s; want admin and the raw extra", got["2"].Role, got["2"].Extra["extra"])
	}
}

func FuzzUsersInfo(f *testing.F) {
	for _, s := range []string{
		`[{"user_id":1,"name":"Ann","avatar_url":"https://x/a.png","profile_url":"https://x/u/1","role":"admin","badge":"gold"}]`,
		`[{"user_id":"2","name":"Bob","stats":{"posts":3},"list":[1,2,null]}]`,
		"\xef\xbb\xbf[{\"user_id\":1,\"name\":\"\\u003cscript\\u003e\"}]",
		`[{"user_id":1,"name":"Ad`,
		`[{"user_id":-1,"name":""},{"user_id":99999999999999999999,"name":"big"}]`,
		`{"user_id":1}`,
		`[]`,
		`null`,
	} {
		f.Add([]byte(s))
	}
	asked := []string{"1", "2", "-1", "abc"}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := ParseUsersInfo(body, asked)
		if err != nil {
			if got != nil {
				t.Fatalf("ParseUsersInfo returned users %v with error %v", got, err)
			}
			return
		}
		for id, u := range got {
			if u.ID != id || config.ValidUserID(id) != nil {
				t.Fatalf("user %q has ID %q", id, u.ID)
			}
			if !strings.Contains(strings.Join(asked, ","), id) {
				t.Fatalf("user %q was not asked for", id)
			}
			b, err := json.Marshal(u)
			if err != nil || !json.Valid(b) {
				t.Fatalf("wire form of %+v is not JSON: %s, %v", u, b, err)
			}
		}
	})
}

func TestPHPTrueKeys(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{`a:1:{s:13:"administrator";b:1;}`, "administrator"},
		{`a:2:{s:6:"editor";b:1;s:10:"subscriber";b:0;}`, "editor"},
		{`a:2:{s:6:"author";i:1;s:3:"bbp";s:1:"1";}`, "author,bbp"},
		{`a:1:{s:99:"editor";b:1;}`, ""},
		{`a:9999999999:{`, ""},
		{`s:6:"editor";`, ""},
		{``, ""},
		{`a:2:{s:6:"editor";b:1;s:5:"x`, "editor"},
	}
	for _, tt := range tests {
		if got := strings.Join(phpTrueKeys(tt.in), ","); got != tt.want {
			t.Errorf("phpTrueKeys(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzPHPCapabilities(f *testing.F) {
	f.Add(`a:1:{s:13:"administrator";b:1;}`)
	f.Add(`a:2:{s:6:"editor";b:1;s:10:"subscriber";d:0.5;}`)
	f.Fuzz(func(t *testing.T, s string) {
		for _, k := range phpTrueKeys(s) {
			if len(k) > len(s) {
				t.Fatalf("key %q longer than the input", k)
			}
		}
	})
}
