package bridge

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"pollchat/config"
)

func TestParseUsersInfo(t *testing.T) {
	asked := []string{"1", "2", "abc"}
	tests := []struct {
		body        string
		want        map[string]string // id -> name
		wantSkipped int
		wantErr     bool
	}{
		{`[{"user_id":1,"name":"Ann"},{"user_id":"2","name":"Bob","role":"administrator"}]`, map[string]string{"1": "Ann", "2": "Bob"}, 0, false},
		{"\xef\xbb\xbf\n[{\"user_id\":\"abc\",\"name\":\"<script>x</script>\"}]", map[string]string{"abc": "<script>x</script>"}, 0, false},
		{`[{"user_id":9,"name":"Not asked"}]`, map[string]string{}, 0, false},
		{`[]`, map[string]string{}, 0, false},
		// What PHP writes for optional fields.
		{`[{"user_id":1,"name":"x","avatar_url":false,"profile_url":null,"role":""}]`, map[string]string{"1": "x"}, 0, false},
		{`[{"user_id":1,"name":"x","avatar_url":5,"profile_url":true,"role":3}]`, map[string]string{"1": "x"}, 0, false},
		{`[{"user_id":1,"name":7}]`, map[string]string{"1": "7"}, 0, false},
		{`[{"user_id":1}]`, map[string]string{"1": ""}, 0, false},
		{`[{"user_id":1,"name":false}]`, map[string]string{"1": ""}, 0, false},
		// json_encode of an array keyed by user id.
		{`{"1":{"user_id":1,"name":"Ann"},"2":{"user_id":"2","name":"Bob"}}`, map[string]string{"1": "Ann", "2": "Bob"}, 0, false},
		// A bad element is skipped; the others are used.
		{`[{"name":"x"},{"user_id":2,"name":"Bob"}]`, map[string]string{"2": "Bob"}, 1, false},
		{`[{"user_id":1.5,"name":"x"},{"user_id":2,"name":"Bob"}]`, map[string]string{"2": "Bob"}, 1, false},
		{`[{"user_id":"a,b","name":"x"},{"user_id":false,"name":"y"},{"user_id":1,"name":"Ann"}]`, map[string]string{"1": "Ann"}, 2, false},
		{`[null,1,"x",[],{"user_id":1,"name":"Ann"}]`, map[string]string{"1": "Ann"}, 4, false},
		{`[{"user_id":1,"name":"Ann"},{"user_id":"1","name":"Imposter"}]`, map[string]string{"1": "Ann"}, 1, false},
		// Unusable as a whole.
		{`[{"user_id":1,"name":"Ad`, nil, 0, true},
		{`<br /><b>Warning</b>`, nil, 0, true},
		{"<br />\n<b>Notice</b>: Undefined variable $x in <b>/var/www/u.php</b><br />\n[{\"user_id\":1,\"name\":\"Ann\"}]", nil, 0, true},
		{`{"error":"db down"}`, nil, 0, true},
		{`{}`, nil, 0, true},
		{`null`, nil, 0, true},
		{`false`, nil, 0, true},
		{``, nil, 0, true},
		{`[{"user_id":1,"name":"x"}] trailing`, nil, 0, true},
	}
	for _, tt := range tests {
		got, skipped, err := ParseUsersInfo([]byte(tt.body), asked)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseUsersInfo(%q) error = %v; want error %v", tt.body, err, tt.wantErr)
			continue
		}
		if err != nil {
			continue
		}
		if len(got) != len(tt.want) || len(skipped) != tt.wantSkipped {
			t.Errorf("ParseUsersInfo(%q) = %v, skipped %v; want %v, %d skipped", tt.body, got, skipped, tt.want, tt.wantSkipped)
		}
		for id, name := range tt.want {
			if got[id].Name != name || got[id].ID != id {
				t.Errorf("ParseUsersInfo(%q)[%s] = %+v; want name %q", tt.body, id, got[id], name)
			}
		}
	}
	got, _, _ := ParseUsersInfo([]byte(`[{"user_id":"2","name":"Bob","role":"administrator","extra":{"a":[1,2]}}]`), asked)
	if got["2"].Role != RoleAdmin || string(got["2"].Extra["extra"]) != `{"a":[1,2]}` {
		t.Errorf("role/extra = %q %s; want admin and the raw extra", got["2"].Role, got["2"].Extra["extra"])
	}
	for _, role := range []string{"ADMINISTRATOR", "Admin", " moderator ", "Editor", "OWNER"} {
		got, _, err := ParseUsersInfo([]byte(`[{"user_id":1,"name":"x","role":"`+role+`"}]`), asked)
		if err != nil || got["1"].Role == RoleMember {
			t.Errorf("ParseUsersInfo(role %q) = %+v, %v; want a moderating role", role, got["1"], err)
		}
	}
}

func FuzzUsersInfo(f *testing.F) {
	for _, s := range []string{
		`[{"user_id":1,"name":"Ann","avatar_url":"https://x/a.png","profile_url":"https://x/u/1","role":"admin","badge":"gold"}]`,
		`[{"user_id":"2","name":"Bob","stats":{"posts":3},"list":[1,2,null]}]`,
		"\xef\xbb\xbf[{\"user_id\":1,\"name\":\"\\u003cscript\\u003e\"}]",
		`[{"user_id":1,"name":"Ad`,
		`[{"user_id":-1,"name":""},{"user_id":99999999999999999999,"name":"big"}]`,
		`[{"user_id":1,"name":"x","avatar_url":false,"profile_url":null,"role":"ADMIN"}]`,
		`[{"user_id":1,"name":12,"avatar_url":"javascript:alert(1)","profile_url":"data:text/html,x"}]`,
		`{"1":{"user_id":1,"name":"Ann"},"abc":{"user_id":"abc","name":"B"}}`,
		`[null,{"user_id":2,"name":"Bob"},{"user_id":true}]`,
		"<br />\n<b>Warning</b>: x\n[]",
		`{"user_id":1}`,
		`[]`,
		`null`,
	} {
		f.Add([]byte(s))
	}
	asked := []string{"1", "2", "-1", "abc"}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, skipped, err := ParseUsersInfo(body, asked)
		if err != nil {
			if got != nil || skipped != nil {
				t.Fatalf("ParseUsersInfo returned users %v, skipped %v with error %v", got, skipped, err)
			}
			return
		}
		for _, sk := range skipped {
			if sk.Index < 0 || sk.Reason == "" || len(sk.UserID) > 64 || !utf8.ValidString(sk.String()) {
				t.Fatalf("skipped element %+v: want an index, a reason and a short, valid id", sk)
			}
		}
		for id, u := range got {
			if u.ID != id || config.ValidUserID(id) != nil {
				t.Fatalf("user %q has ID %q", id, u.ID)
			}
			if !slices.Contains(asked, id) {
				t.Fatalf("user %q was not asked for", id)
			}
			if u.AvatarURL != SafeURL(u.AvatarURL) || u.ProfileURL != SafeURL(u.ProfileURL) {
				t.Fatalf("user %q has unsafe URLs %q, %q", id, u.AvatarURL, u.ProfileURL)
			}
			switch u.Role {
			case RoleMember, RoleMod, RoleAdmin, RoleOwner:
			default:
				t.Fatalf("user %q has role %q", id, u.Role)
			}
			b, err := json.Marshal(u)
			if err != nil || !json.Valid(b) {
				t.Fatalf("wire form of %+v is not JSON: %s, %v", u, b, err)
			}
		}
	})
}

func TestSanitizedStart(t *testing.T) {
	tests := []struct{ in, want string }{
		{"<br />\n<b>Notice</b>:  x\r\n\t[", "<br /> <b>Notice</b>: x ["},
		{"\x1b[31mred\x00\xff", "[31mred ?"},
		{"a\u2028b", "a b"},
		{strings.Repeat("é", 100), strings.Repeat("é", 20) + "…"},
	}
	for _, tt := range tests {
		if got := sanitizedStart([]byte(tt.in), 40); got != tt.want {
			t.Errorf("sanitizedStart(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
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
