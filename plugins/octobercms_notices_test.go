package plugins

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// octoberNotifySecret is the notify secret in the October notice tests.
const octoberNotifySecret = "october-notify-secret-0123456789abcdef"

// octoberRequest is one call of the notice route and what to do before it.
type octoberRequest struct {
	Before  string            // PHP run before the call
	Headers map[string]string // as $_SERVER keys (HTTP_X_POLLCHAT_…)
	Body    string
}

// octoberReply is what one call gave: the answer and the mails sent.
type octoberReply struct {
	Status int
	Body   string
	Mails  []struct {
		View, To, Name, Subject string
		Vars                    map[string]string
	}
}

// signedOctober is a request carrying body, signed with secret at ts.
func signedOctober(secret string, ts int64, body []byte) octoberRequest {
	s := strconv.FormatInt(ts, 10)
	var id struct{ ID string }
	_ = json.Unmarshal(body, &id)
	return octoberRequest{Body: string(body), Headers: map[string]string{
		"HTTP_X_POLLCHAT_NOTICE": id.ID, "HTTP_X_POLLCHAT_TIMESTAMP": s, "HTTP_X_POLLCHAT_SIGNATURE": signNotice(secret, s, body),
		"CONTENT_TYPE": "application/json",
	}}
}

// runOctoberNotices calls the closure routes.php registers for
// POST pollchat/notice once per request, in one PHP process (so the
// cache and the opt-out table carry over), as October's router would.
func runOctoberNotices(t *testing.T, reqs []octoberRequest) []octoberReply {
	t.Helper()
	b, err := json.Marshal(reqs)
	if err != nil {
		t.Fatal(err)
	}
	var out []octoberReply
	phpJSON(t, octoberSetup("https://chat.example.com", `Model::$settings['notify_secret'] = `+q(octoberNotifySecret)+`;`)+`
User::$all[2]->email = 'grace@example.com';
User::$all[1]->email = 'ada@example.com';
$out = array();
ini_set('error_log', '/dev/null'); // the failed mail is logged
foreach (json_decode(`+q(string(b))+`, true) as $req) {
	eval((string) $req['Before']);
	$_SERVER = $req['Headers'] ?: array();
	Request::$content = $req['Body'];
	Mail::$sent = array();
	$a = call_user_func(Route::$post['pollchat/notice']);
	$out[] = array('Status' => $a['status'], 'Body' => $a['body'], 'Mails' => Mail::$sent);
}
echo json_encode($out);`, &out)
	if len(out) != len(reqs) {
		t.Fatalf("%d answers for %d requests", len(out), len(reqs))
	}
	return out
}

// TestOctoberNoticeRoute plays pollchat against the October plugin's
// notice route: signed notices reach the Mail facade with the plugin's
// template, and forged, stale, replayed, rate-limited and opted-out ones
// do not.
func TestOctoberNoticeRoute(t *testing.T) {
	now := time.Now().Unix()
	good := notice("o-first", 2, 3, "Eve", "Are you coming tonight?")
	hostile := notice("o-hostile", 1, 2, "Eve\r\nBcc: victim@evil.example\u202e", "<b>hi</b>\r\nCc: x@evil.example")
	wrong := signedOctober("not-the-secret-0123456789abcdef0123", now, good)
	wrong.Headers["HTTP_X_POLLCHAT_NOTICE"] = "o-first"
	cases := []struct {
		name    string
		req     octoberRequest
		status  int
		mailTo  string // "" for no mail
		subject string
	}{
		{"wrong secret", wrong, 401, "", ""},
		{"no signature", octoberRequest{Body: string(good)}, 401, "", ""},
		{"signed 6 min ago", signedOctober(octoberNotifySecret, now-360, good), 401, "", ""},
		{"signed 6 min ahead", signedOctober(octoberNotifySecret, now+360, good), 401, "", ""},
		{"malformed", signedOctober(octoberNotifySecret, now, []byte(`{"id":"x","type":"read","user_id":"2","count":1}`)), 400, "", ""},
		{"a notice mails the member", signedOctober(octoberNotifySecret, now, good), 200, "grace@example.com", "3 unread messages from Eve"},
		{"replayed", signedOctober(octoberNotifySecret, now+1, good), 200, "", ""},
		{"second notice in the interval", signedOctober(octoberNotifySecret, now, notice("o-second", 2, 1, "Eve", "x")), 200, "", ""},
		{"unknown member", signedOctober(octoberNotifySecret, now, notice("o-unknown", 99, 1, "Eve", "x")), 200, "", ""},
		{"opted out", withBefore(`Pollchat\Chat\Components\NoticeSettings::setMails(3, false);`, signedOctober(octoberNotifySecret, now, notice("o-optout", 3, 1, "Eve", "x"))), 200, "", ""},
		{"opted in again through the component", withBefore(`RainLab\User\Facades\Auth::$user = \RainLab\User\Models\User::$all[3]; $_POST = array('notice_mail' => '1');
$c = new Pollchat\Chat\Components\NoticeSettings(); $r = $c->onSavePollchatNotices(); if ($r['mails'] !== true) { throw new Exception('component did not turn mails on'); }`,
			signedOctober(octoberNotifySecret, now, notice("o-optin", 3, 1, "Eve", "x"))), 200, "linus@example.com", "1 unread message from Eve"},
		{"mailer down", withBefore(`Mail::$fail = true;`, signedOctober(octoberNotifySecret, now, hostile)), 503, "", ""},
		{"hostile text, retried", withBefore(`Mail::$fail = false;`, signedOctober(octoberNotifySecret, now, hostile)), 200, "ada@example.com", "2 unread messages from Eve Bcc: victim@evil.example"},
	}
	reqs := make([]octoberRequest, len(cases))
	for i, tc := range cases {
		reqs[i] = tc.req
	}
	got := runOctoberNotices(t, reqs)
	for i, tc := range cases {
		r := got[i]
		if r.Status != tc.status {
			t.Errorf("%s: status = %d %s; want %d", tc.name, r.Status, r.Body, tc.status)
		}
		if tc.status == 200 && r.Body != okAnswer {
			t.Errorf("%s: body = %s; want %s", tc.name, r.Body, okAnswer)
		}
		if tc.mailTo == "" {
			if len(r.Mails) != 0 {
				t.Errorf("%s: mailed %+v; want no mail", tc.name, r.Mails)
			}
			continue
		}
		if len(r.Mails) != 1 {
			t.Errorf("%s: %d mails; want 1 to %s", tc.name, len(r.Mails), tc.mailTo)
			continue
		}
		m := r.Mails[0]
		if m.View != "pollchat.chat::mail.notice" || m.To != tc.mailTo || m.Subject != tc.subject || m.Vars["subject"] != tc.subject {
			t.Errorf("%s: mail %+v; want template pollchat.chat::mail.notice to %s, subject %q", tc.name, m, tc.mailTo, tc.subject)
		}
		if m.Vars["link"] != "https://site.example/" {
			t.Errorf("%s: link %q; want the home page", tc.name, m.Vars["link"])
		}
		for k, v := range m.Vars {
			if strings.ContainsAny(v, "\r\n\x00\u202e") {
				t.Errorf("%s: mail variable %s = %q keeps a line break or control character", tc.name, k, v)
			}
		}
	}
	if m := got[5].Mails; len(m) == 1 && (m[0].Vars["excerpt"] != "Are you coming tonight?" || m[0].Vars["sender"] != "Eve" || m[0].Name != "Grace Hopper") {
		t.Errorf("first mail vars %v, name %q; want the excerpt, sender Eve and Grace Hopper", m[0].Vars, m[0].Name)
	}
	if m := got[len(got)-1].Mails; len(m) == 1 && m[0].Vars["excerpt"] != "<b>hi</b> Cc: x@evil.example" {
		t.Errorf("hostile excerpt = %q; want it on one line (the template escapes it in HTML)", m[0].Vars["excerpt"])
	}
}

func withBefore(php string, r octoberRequest) octoberRequest {
	r.Before = php
	return r
}

// TestOctoberNoticeTemplate checks the mail template the plugin registers:
// it exists with a subject, a plain-text and an HTML part, and the HTML
// part escapes every variable (October's Twig may not escape by itself).
func TestOctoberNoticeTemplate(t *testing.T) {
	var reg []string
	phpJSON(t, octoberSetup("https://chat.example.com", "")+`echo json_encode((new Pollchat\Chat\Plugin())->registerMailTemplates());`, &reg)
	if len(reg) != 1 || reg[0] != "pollchat.chat::mail.notice" {
		t.Fatalf("registerMailTemplates = %v; want pollchat.chat::mail.notice", reg)
	}
	b, err := os.ReadFile(filepath.Join(octoberPlugin, "views", "mail", "notice.htm"))
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(string(b), "\n==\n")
	if len(parts) != 3 || !strings.HasPrefix(parts[0], `subject = "{{ subject|raw }}"`) {
		t.Fatalf("notice.htm has %d sections; want settings with the subject, plain text and HTML", len(parts))
	}
	for _, m := range regexp.MustCompile(`\{\{\s*([^}]*?)\s*\}\}`).FindAllStringSubmatch(parts[2], -1) {
		if !regexp.MustCompile(`\|e(\(|$)`).MatchString(m[1]) {
			t.Errorf("notice.htm HTML part prints %q without |e", m[0])
		}
	}
	for _, want := range []string{"{{ excerpt|raw }}", "{{ link|raw }}"} {
		if !strings.Contains(parts[1], want) {
			t.Errorf("notice.htm plain-text part lacks %s", want)
		}
	}
}
