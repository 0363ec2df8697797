package plugins

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"pollchat/internal/testsvc"
)

// postMessage sends a chat message through pollchat's backend API.
func postMessage(t *testing.T, pc *testsvc.Pollchat, from, to, text string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"from": from, "to": to, "text": text})
	code, _, out := httpDo(t, "POST", pc.URL+"/api/v1/messages", strings.NewReader(string(body)), map[string]string{
		"Authorization": "Basic " + b64(testsvc.APILogin+":"+testsvc.APIPassword),
		"Content-Type":  "application/json",
	})
	if code != 201 {
		t.Fatalf("POST /api/v1/messages %s = %d %s; want 201\n%s", body, code, out, pc.Log())
	}
}

// apiExport is pollchat's own export of a user, read with the API credentials.
func apiExport(t *testing.T, pc *testsvc.Pollchat, user int) string {
	t.Helper()
	code, _, body := httpDo(t, "GET", fmt.Sprintf("%s/api/v1/users/%d/export", pc.URL, user), nil, map[string]string{
		"Authorization": "Basic " + b64(testsvc.APILogin+":"+testsvc.APIPassword),
	})
	if code != 200 {
		t.Fatalf("GET /api/v1/users/%d/export = %d %s; want 200", user, code, body)
	}
	return string(body)
}

type exportPage struct {
	Data []struct {
		GroupID    string `json:"group_id"`
		GroupLabel string `json:"group_label"`
		ItemID     string `json:"item_id"`
		Data       []struct {
			Name  string `json:"name"`
			Value string `json:"value"`
		} `json:"data"`
	} `json:"data"`
	Done  bool   `json:"done"`
	Error string `json:"error"`
}

type erasePage struct {
	ItemsRemoved  bool     `json:"items_removed"`
	ItemsRetained bool     `json:"items_retained"`
	Messages      []string `json:"messages"`
	Done          bool     `json:"done"`
	Error         string   `json:"error"`
}

// privacyCall runs the exporter or eraser WordPress has registered under
// "pollchat" (through the filters Tools → Export/Erase Personal Data read)
// for email and page, and decodes its answer; a WP_Error becomes Error.
func privacyCall(t *testing.T, s *wpSite, kind, email string, page int, v any) {
	t.Helper()
	filter := map[string]string{"export": "wp_privacy_personal_data_exporters", "erase": "wp_privacy_personal_data_erasers"}[kind]
	out := s.wp.PHP(t, fmt.Sprintf(`$all = apply_filters(%s, array());
if (!isset($all['pollchat']) || !is_callable($all['pollchat']['callback'])) { fwrite(STDERR, "PHP Fatal error: no pollchat entry in %s\n"); exit(1); }
$r = call_user_func($all['pollchat']['callback'], %s, %d);
echo "\n", wp_json_encode(is_wp_error($r) ? array('error' => $r->get_error_message()) : $r);`, q(filter), filter, q(email), page))
	if err := json.Unmarshal([]byte(lastLine(out)), v); err != nil {
		t.Fatalf("%s page %d printed %q: %v", kind, page, out, err)
	}
}

// TestWordPressPersonalData: WordPress's personal-data exporter and eraser
// reach pollchat: the export holds the member's chat messages, paged; the
// eraser removes them in pollchat; an unreachable pollchat is said so.
func TestWordPressPersonalData(t *testing.T) {
	s := setupWordPress(t)
	s.saveSettings(t, goodWordPressSettings(s))
	eve, sam := fmt.Sprint(s.editor), fmt.Sprint(s.subscriber)

	// 130 messages between Eve and Sam: more than one exporter page.
	var texts []string
	for i := 0; i < 130; i++ {
		from, to := eve, sam
		if i%3 == 0 {
			from, to = sam, eve
		}
		text := fmt.Sprintf("personal-data message %03d from %s", i, from)
		postMessage(t, s.pc, from, to, text)
		texts = append(texts, text)
	}
	// A message between others is not Sam's.
	postMessage(t, s.pc, eve, fmt.Sprint(s.wp.AdminID), "not about sam")

	t.Run("export", func(t *testing.T) {
		seen := map[string]int{}
		pages := 0
		for page := 1; page <= 5; page++ {
			var p exportPage
			privacyCall(t, s, "export", "sam@example.com", page, &p)
			if p.Error != "" {
				t.Fatalf("export page %d: error %q", page, p.Error)
			}
			pages++
			if len(p.Data) > 100 {
				t.Errorf("export page %d has %d items; want at most 100", page, len(p.Data))
			}
			for _, item := range p.Data {
				if item.GroupID != "pollchat-messages" {
					continue
				}
				if item.GroupLabel != "Chat messages" {
					t.Errorf("message item %s in group %q; want Chat messages", item.ItemID, item.GroupLabel)
				}
				for _, d := range item.Data {
					if d.Name == "Text" {
						seen[d.Value]++
					}
				}
			}
			if p.Done {
				break
			}
		}
		if pages != 2 {
			t.Errorf("the export took %d pages; want 2 for 130 messages", pages)
		}
		for _, text := range texts {
			if seen[text] != 1 {
				t.Errorf("the export holds %q %d times; want once", text, seen[text])
			}
		}
		if seen["not about sam"] != 0 {
			t.Errorf("Sam's export holds a message between Eve and the administrator")
		}
		// Nobody with that address: nothing, done.
		var p exportPage
		privacyCall(t, s, "export", "nobody@example.com", 1, &p)
		if p.Error != "" || len(p.Data) != 0 || !p.Done {
			t.Errorf("export for an unknown address = %+v; want no items, done", p)
		}
	})

	t.Run("unreachable", func(t *testing.T) {
		defer s.saveSettings(t, goodWordPressSettings(s))
		s.saveSettings(t, map[string]any{"server_url": fmt.Sprintf("http://127.0.0.1:%d", testsvc.FreePort(t))})
		var p exportPage
		privacyCall(t, s, "export", "sam@example.com", 1, &p)
		if !strings.Contains(p.Error, "could not be reached") || len(p.Data) != 0 {
			t.Errorf("export with pollchat down = %+v; want an error saying it could not be reached", p)
		}
		var e erasePage
		privacyCall(t, s, "erase", "sam@example.com", 1, &e)
		if e.Error != "" || e.Done || e.ItemsRemoved || len(e.Messages) != 1 || !strings.Contains(e.Messages[0], "could not be reached") {
			t.Errorf("erase page 1 with pollchat down = %+v; want done false (WordPress asks again) and a message saying so", e)
		}
		e = erasePage{}
		privacyCall(t, s, "erase", "sam@example.com", 3, &e)
		if !strings.Contains(e.Error, "could not be reached") {
			t.Errorf("erase page 3 with pollchat down = %+v; want an error: WordPress stops asking", e)
		}
		s.saveSettings(t, map[string]any{"server_url": s.pc.URL, "api_password": "wrong-password"})
		e = erasePage{}
		privacyCall(t, s, "erase", "sam@example.com", 1, &e)
		if !strings.Contains(e.Error, "refused") {
			t.Errorf("erase with a wrong API password = %+v; want an error saying pollchat refused the credentials", e)
		}
		// Nothing was erased meanwhile.
		if got := apiExport(t, s.pc, s.subscriber); !strings.Contains(got, texts[1]) {
			t.Fatalf("after failed erasures pollchat's export of Sam lacks %q", texts[1])
		}
	})

	t.Run("erase", func(t *testing.T) {
		var e erasePage
		privacyCall(t, s, "erase", "sam@example.com", 1, &e)
		if e.Error != "" || !e.Done || !e.ItemsRemoved || len(e.Messages) == 0 {
			t.Fatalf("erase = %+v; want items removed, done, and a message with the counts", e)
		}
		got := apiExport(t, s.pc, s.subscriber)
		for _, text := range texts {
			if strings.Contains(got, text) {
				t.Fatalf("after the eraser pollchat's export of Sam still holds %q:\n%s", text, got)
			}
		}
		var p exportPage
		privacyCall(t, s, "export", "sam@example.com", 1, &p)
		for _, item := range p.Data {
			if item.GroupID == "pollchat-messages" {
				t.Errorf("after the eraser the WordPress export still has a chat message: %+v", item)
				break
			}
		}
		// Eve's own conversation with the administrator is untouched.
		if got := apiExport(t, s.pc, s.editor); !strings.Contains(got, "not about sam") {
			t.Errorf("erasing Sam removed Eve's message to the administrator")
		}
	})
}

// TestWordPressEraseAnonymize: under pollchat's privacy.erase = "anonymize"
// the eraser reports the member's messages as retained (their texts stay
// under a pseudonym) and says why; the member's own export is empty of them.
func TestWordPressEraseAnonymize(t *testing.T) {
	s := installWordPressPlugin(t)
	s.web = s.wp.Serve(t)
	s.pc = testsvc.StartPollchat(t, testsvc.Options{
		Users: fmt.Sprintf("[users]\nsource = \"http\"\n[users.http]\nurl = %q\nlogin = %q\npassword = %q\ntimeout = \"30s\"\n",
			s.usersURL, usersLogin, usersPassword),
		Extra: "[privacy]\nerase = \"anonymize\"\n",
	})
	s.saveSettings(t, goodWordPressSettings(s))
	eve, sam := fmt.Sprint(s.editor), fmt.Sprint(s.subscriber)
	postMessage(t, s.pc, sam, eve, "anonymised text one")
	postMessage(t, s.pc, eve, sam, "anonymised answer")

	var e erasePage
	privacyCall(t, s, "erase", "sam@example.com", 1, &e)
	if e.Error != "" || !e.Done || !e.ItemsRetained || len(e.Messages) < 2 || !strings.Contains(strings.Join(e.Messages, " "), "anonymize") {
		t.Fatalf("erase under anonymize = %+v; want done, items retained, and messages naming the policy", e)
	}
	if got := apiExport(t, s.pc, s.subscriber); strings.Contains(got, "anonymised text one") {
		t.Errorf("after erasing, Sam's export still holds the text:\n%s", got)
	}
	got := apiExport(t, s.pc, s.editor)
	if !strings.Contains(got, "anonymised text one") || strings.Contains(got, `"from":"`+sam+`"`) {
		t.Errorf("under anonymize Eve's export should keep Sam's text under a pseudonym, without Sam's id:\n%s", got)
	}
}
