package plugins

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testMailer is an mu-plugin that puts a PHPMailer in place whose send()
// records the finished message (after wp_mail and PHPMailer built it:
// recipients, headers, encoded body) in a file instead of sending it, and
// fails while a FAIL file exists.
const testMailer = `<?php
// pollchat's tests: record mails instead of sending them.
add_filter( 'wp_mail_from', function () { return 'wordpress@example.com'; } );
add_action( 'plugins_loaded', function () {
	global $phpmailer;
	require_once ABSPATH . WPINC . '/PHPMailer/PHPMailer.php';
	require_once ABSPATH . WPINC . '/PHPMailer/SMTP.php';
	require_once ABSPATH . WPINC . '/PHPMailer/Exception.php';
	$phpmailer = new class( true ) extends PHPMailer\PHPMailer\PHPMailer {
		public function send() {
			if ( file_exists( POLLCHAT_TEST_MAIL . '.FAIL' ) ) {
				throw new PHPMailer\PHPMailer\Exception( 'test mailer: failing on purpose' );
			}
			if ( ! $this->preSend() ) {
				return false;
			}
			$addresses = function ( $list ) { return array_map( function ( $a ) { return $a[0]; }, $list ); };
			file_put_contents( POLLCHAT_TEST_MAIL, json_encode( array(
				'to'   => $addresses( $this->getToAddresses() ),
				'cc'   => $addresses( $this->getCcAddresses() ),
				'bcc'  => $addresses( $this->getBccAddresses() ),
				'mime' => $this->getSentMIMEMessage(),
			) ) . "\n", FILE_APPEND | LOCK_EX );
			return true;
		}
	};
} );
`

// sentMail is one recorded mail.
type sentMail struct {
	To, Cc, Bcc []string
	MIME        string
	Header      mail.Header
	Subject     string
	Body        string
}

// noticeSite is WordPress with the plugin, served, with the test mailer.
type noticeSite struct {
	*wpSite
	mailFile string
	url      string
}

func setupNoticeSite(t *testing.T) *noticeSite {
	t.Helper()
	s := installWordPressPlugin(t)
	mu := filepath.Join(s.wp.Dir, "wp-content", "mu-plugins")
	if err := os.MkdirAll(mu, 0o755); err != nil {
		t.Fatal(err)
	}
	n := &noticeSite{wpSite: s, mailFile: filepath.Join(s.wp.Dir, "mails.jsonl")}
	src := strings.Replace(testMailer, "<?php\n", "<?php\ndefine( 'POLLCHAT_TEST_MAIL', "+q(n.mailFile)+" );\n", 1)
	if err := os.WriteFile(filepath.Join(mu, "test-mailer.php"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	n.url = lastLine(s.wp.PHP(t, `echo pollchat_notice_url();`))
	if want := s.wp.SiteURL + "/wp-json/pollchat/v1/notice"; n.url != want {
		t.Fatalf("pollchat_notice_url() = %q; want %q", n.url, want)
	}
	s.web = s.wp.Serve(t)
	return n
}

// signNotice is pollchat's signature of body at ts with secret.
func signNotice(secret, ts string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "." + string(body)))
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// post sends body as pollchat would: signed now with the notify secret,
// unless edit changes the headers first.
func (n *noticeSite) post(t *testing.T, body []byte, edit func(h map[string]string)) (int, string) {
	t.Helper()
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	var id struct{ ID string }
	_ = json.Unmarshal(body, &id)
	h := map[string]string{
		"Content-Type":         "application/json",
		"User-Agent":           "pollchat/test",
		"X-Pollchat-Notice":    id.ID,
		"X-Pollchat-Timestamp": ts,
		"X-Pollchat-Signature": signNotice(n.notifySecret, ts, body),
	}
	if edit != nil {
		edit(h)
	}
	code, _, b := httpDo(t, "POST", n.url, strings.NewReader(string(body)), h)
	return code, string(b)
}

// notice is a notice body for user with count messages from one sender.
func notice(id string, user int, count int, sender, excerpt string) []byte {
	b, err := json.Marshal(map[string]any{
		"id": id, "type": "unread", "user_id": strconv.Itoa(user), "count": count,
		"senders":       []map[string]any{{"user_id": "2", "name": sender}},
		"conversations": []map[string]any{{"with": "2", "count": count, "last_message_id": 17}},
		"excerpt":       excerpt,
		"first_ts":      "2026-12-07T10:00:00Z", "last_ts": "2026-12-07T10:00:40Z",
	})
	if err != nil {
		panic(err)
	}
	return b
}

// mails returns the recorded mails and forgets them.
func (n *noticeSite) mails(t *testing.T) []sentMail {
	t.Helper()
	b, err := os.ReadFile(n.mailFile)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(n.mailFile); err != nil {
		t.Fatal(err)
	}
	var out []sentMail
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var m sentMail
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("recorded mail %q: %v", line, err)
		}
		msg, err := mail.ReadMessage(strings.NewReader(m.MIME))
		if err != nil {
			t.Fatalf("recorded mail is no RFC 5322 message: %v\n%s", err, m.MIME)
		}
		m.Header = msg.Header
		if m.Subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); err != nil {
			t.Fatalf("Subject %q: %v", msg.Header.Get("Subject"), err)
		}
		var r io.Reader = msg.Body
		switch strings.ToLower(msg.Header.Get("Content-Transfer-Encoding")) {
		case "quoted-printable":
			r = quotedprintable.NewReader(r)
		case "base64":
			r = base64.NewDecoder(base64.StdEncoding, r)
		}
		body, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("mail body: %v\n%s", err, m.MIME)
		}
		m.Body = strings.ReplaceAll(string(body), "\r\n", "\n")
		out = append(out, m)
	}
	return out
}

// oneMail expects exactly one recorded mail.
func (n *noticeSite) oneMail(t *testing.T, what string) sentMail {
	t.Helper()
	ms := n.mails(t)
	if len(ms) != 1 {
		t.Fatalf("%s: %d mails recorded; want 1\n%s", what, len(ms), n.web.Log())
	}
	return ms[0]
}

// noMail expects no recorded mail.
func (n *noticeSite) noMail(t *testing.T, what string) {
	t.Helper()
	if ms := n.mails(t); len(ms) != 0 {
		t.Errorf("%s: %d mails recorded (first to %v, %q); want none", what, len(ms), ms[0].To, ms[0].Subject)
	}
}

// forgetLastMails lets every member be mailed again (as if the interval
// had passed) by expiring the per-member claims.
func (n *noticeSite) forgetLastMails(t *testing.T) {
	t.Helper()
	n.wp.PHP(t, `global $wpdb; $wpdb->query("UPDATE {$wpdb->options} SET option_value = '1' WHERE option_name LIKE 'pollchat\\_claim\\_u\\_%'");`)
}

const okAnswer = `{"ok":true}`

// TestWordPressNotices plays pollchat against the plugin's notice route on
// a real WordPress: signed notices become mails (recorded from PHPMailer,
// after wp_mail built them), and everything else is refused or dropped
// without a mail.
func TestWordPressNotices(t *testing.T) {
	n := setupNoticeSite(t)
	sam := n.subscriber

	t.Run("a notice mails the member", func(t *testing.T) {
		code, body := n.post(t, notice("n-first", sam, 3, "Eve", "Are you coming tonight?"), nil)
		if code != 200 || body != okAnswer {
			t.Fatalf("notice = %d %s; want 200 %s\n%s", code, body, okAnswer, n.web.Log())
		}
		m := n.oneMail(t, "first notice")
		if len(m.To) != 1 || m.To[0] != "sam@example.com" || len(m.Cc)+len(m.Bcc) != 0 {
			t.Errorf("mail to %v, cc %v, bcc %v; want only sam@example.com", m.To, m.Cc, m.Bcc)
		}
		if m.Subject != "3 unread messages from Eve" {
			t.Errorf("Subject = %q; want %q", m.Subject, "3 unread messages from Eve")
		}
		if ct := m.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
			t.Errorf("Content-Type = %q; want text/plain", ct)
		}
		for _, want := range []string{"Hello Sam Sübscriber,", "Eve: Are you coming tonight?", "Read and answer: " + n.wp.SiteURL + "/\n", n.wp.SiteURL + "/wp-admin/profile.php"} {
			if !strings.Contains(m.Body, want) {
				t.Errorf("mail body lacks %q:\n%s", want, m.Body)
			}
		}
	})

	t.Run("one message, the configured chat page", func(t *testing.T) {
		n.forgetLastMails(t)
		chatPage := n.wp.SiteURL + "/chat-page/?tab=messages"
		if got := n.saveSettings(t, map[string]any{"notify_link": chatPage}); got["notify_link"] != chatPage {
			t.Fatalf("saving notify_link stored %q; want %q", got["notify_link"], chatPage)
		}
		defer n.saveSettings(t, map[string]any{"notify_link": ""})
		if code, body := n.post(t, notice("n-single", sam, 1, "Eve", "Hi"), nil); code != 200 {
			t.Fatalf("notice = %d %s; want 200", code, body)
		}
		m := n.oneMail(t, "one message")
		if m.Subject != "1 unread message from Eve" || !strings.Contains(m.Body, "Read and answer: "+chatPage+"\n") {
			t.Errorf("mail %q with body\n%s\nwant subject \"1 unread message from Eve\" and a link to %s", m.Subject, m.Body, chatPage)
		}
		if got := n.saveSettings(t, map[string]any{"notify_link": "javascript:alert(1)"}); got["notify_link"] != chatPage {
			t.Errorf("saving a javascript: chat page stored %q; want it refused and %q kept", got["notify_link"], chatPage)
		}
	})

	t.Run("refused signatures", func(t *testing.T) {
		n.forgetLastMails(t)
		body := notice("n-refused", sam, 2, "Eve", "hello")
		now := time.Now().Unix()
		at := func(ts int64) func(map[string]string) {
			return func(h map[string]string) {
				s := strconv.FormatInt(ts, 10)
				h["X-Pollchat-Timestamp"], h["X-Pollchat-Signature"] = s, signNotice(n.notifySecret, s, body)
			}
		}
		for _, tc := range []struct {
			name string
			edit func(map[string]string)
		}{
			{"wrong secret", func(h map[string]string) {
				h["X-Pollchat-Signature"] = signNotice(n.linkSecret, h["X-Pollchat-Timestamp"], body)
			}},
			{"no signature", func(h map[string]string) { delete(h, "X-Pollchat-Signature") }},
			{"uppercase hex", func(h map[string]string) {
				h["X-Pollchat-Signature"] = "sha256=" + strings.ToUpper(h["X-Pollchat-Signature"][7:])
			}},
			{"bare hex", func(h map[string]string) { h["X-Pollchat-Signature"] = h["X-Pollchat-Signature"][7:] }},
			{"timestamp moved", func(h map[string]string) {
				// One second after the signed one (not now+1: the clock may have ticked since now).
				signed, _ := strconv.ParseInt(h["X-Pollchat-Timestamp"], 10, 64)
				h["X-Pollchat-Timestamp"] = strconv.FormatInt(signed+1, 10)
			}},
			{"no timestamp", func(h map[string]string) { delete(h, "X-Pollchat-Timestamp") }},
			{"signed 6 min ago", at(now - 360)},
			{"signed 6 min ahead", at(now + 360)},
			{"signed an hour ago", at(now - 3600)},
			{"body of another notice", func(h map[string]string) {
				h["X-Pollchat-Signature"] = signNotice(n.notifySecret, h["X-Pollchat-Timestamp"], notice("n-other", sam, 2, "Eve", "hello"))
			}},
		} {
			if code, resp := n.post(t, body, tc.edit); code != 401 {
				t.Errorf("%s: notice = %d %s; want 401", tc.name, code, resp)
			}
		}
		n.noMail(t, "refused signatures")
		// The same notice signed right still goes through: the refusals
		// did not use up its id.
		if code, resp := n.post(t, body, at(time.Now().Unix()-200)); code != 200 {
			t.Errorf("signed 200 s ago = %d %s; want 200", code, resp)
		}
		n.oneMail(t, "the refused notice, signed right")
	})

	t.Run("malformed notices are refused", func(t *testing.T) {
		n.forgetLastMails(t)
		for _, tc := range []struct {
			name string
			body string
		}{
			{"not an object", `[1,2]`},
			{"bad id", `{"id":"../x","type":"unread","user_id":"3","count":1}`},
			{"unknown type", `{"id":"t1","type":"read","user_id":"3","count":1}`},
			{"count zero", `{"id":"t2","type":"unread","user_id":"3","count":0}`},
			{"user id not a number", `{"id":"t3","type":"unread","user_id":"3 OR 1=1","count":1}`},
		} {
			if code, resp := n.post(t, []byte(tc.body), nil); code != 400 {
				t.Errorf("%s: notice %s = %d %s; want 400", tc.name, tc.body, code, resp)
			}
		}
		mismatch := func(h map[string]string) { h["X-Pollchat-Notice"] = "another-id" }
		if code, resp := n.post(t, notice("n-mismatch", sam, 1, "Eve", "x"), mismatch); code != 400 {
			t.Errorf("X-Pollchat-Notice differing from the body's id = %d %s; want 400", code, resp)
		}
		n.noMail(t, "malformed notices")
	})

	t.Run("a replayed notice mails once", func(t *testing.T) {
		n.forgetLastMails(t)
		body := notice("n-replayed", sam, 2, "Eve", "once")
		for i := 0; i < 3; i++ {
			if code, resp := n.post(t, body, nil); code != 200 || resp != okAnswer {
				t.Errorf("attempt %d = %d %s; want 200 %s", i+1, code, resp, okAnswer)
			}
			if i == 0 {
				n.oneMail(t, "first attempt")
			}
			// A retry after the interval is still the same notice.
			n.forgetLastMails(t)
		}
		n.noMail(t, "retries of a handled notice")
	})

	t.Run("at most one mail per member per interval", func(t *testing.T) {
		n.forgetLastMails(t)
		for i := 0; i < 3; i++ {
			if code, resp := n.post(t, notice(fmt.Sprintf("n-flood-%d", i), sam, 1, "Eve", "flood"), nil); code != 200 {
				t.Errorf("notice %d = %d %s; want 200", i, code, resp)
			}
		}
		n.oneMail(t, "three notices in one interval")
		// Another member is not held back by Sam's interval.
		if code, _ := n.post(t, notice("n-flood-eve", n.editor, 1, "Sam", "hi"), nil); code != 200 {
			t.Errorf("notice to Eve = %d; want 200", code)
		}
		if m := n.oneMail(t, "another member"); m.To[0] != "eve@example.com" {
			t.Errorf("mail to %v; want eve@example.com", m.To)
		}
		n.forgetLastMails(t)
		if code, _ := n.post(t, notice("n-flood-later", sam, 1, "Eve", "later"), nil); code != 200 {
			t.Errorf("notice after the interval = %d; want 200", code)
		}
		n.oneMail(t, "after the interval")
	})

	t.Run("unknown member", func(t *testing.T) {
		n.forgetLastMails(t)
		if code, resp := n.post(t, notice("n-unknown", 424242, 3, "Eve", "anyone?"), nil); code != 200 || resp != okAnswer {
			t.Errorf("notice to an unknown member = %d %s; want 200 %s, as for a member", code, resp, okAnswer)
		}
		n.noMail(t, "unknown member")
	})

	t.Run("opting out in the profile", func(t *testing.T) {
		n.forgetLastMails(t)
		olga := n.wp.CreateUser(t, "olga", "olga@example.com", "Olga", "subscriber")
		n.setMailsInProfile(t, olga, false)
		if code, resp := n.post(t, notice("n-optout", olga, 2, "Eve", "psst"), nil); code != 200 || resp != okAnswer {
			t.Errorf("notice to an opted-out member = %d %s; want 200 %s", code, resp, okAnswer)
		}
		n.noMail(t, "opted-out member")
		n.setMailsInProfile(t, olga, true)
		if code, _ := n.post(t, notice("n-optin", olga, 2, "Eve", "psst"), nil); code != 200 {
			t.Errorf("notice after opting in again = %d; want 200", code)
		}
		if m := n.oneMail(t, "opted in again"); m.To[0] != "olga@example.com" {
			t.Errorf("mail to %v; want olga@example.com", m.To)
		}
	})

	t.Run("hostile names and excerpts stay plain text", func(t *testing.T) {
		n.forgetLastMails(t)
		name := "Eve\r\nBcc: victim@evil.example\r\n\r\n<b>Eve</b>\u202e"
		excerpt := "<a href=\"http://evil.example\">click</a>\r\nCc: x@evil.example\n<script>alert(1)</script>\x00"
		if code, resp := n.post(t, notice("n-hostile", sam, 2, name, excerpt), nil); code != 200 {
			t.Fatalf("hostile notice = %d %s; want 200", code, resp)
		}
		m := n.oneMail(t, "hostile notice")
		if len(m.To) != 1 || m.To[0] != "sam@example.com" || len(m.Cc)+len(m.Bcc) != 0 {
			t.Errorf("mail to %v, cc %v, bcc %v; want only sam@example.com", m.To, m.Cc, m.Bcc)
		}
		for k, v := range m.Header {
			if k == "Bcc" || k == "Cc" || k != "Subject" && strings.Contains(strings.Join(v, " "), "evil") {
				t.Errorf("mail has a header %s: %q; want none made from the notice but the subject", k, v)
			}
		}
		if want := "2 unread messages from Eve Bcc: victim@evil.example <b>Eve</b>"; m.Subject != want {
			t.Errorf("Subject = %q; want %q (line breaks and control characters as spaces)", m.Subject, want)
		}
		if ct := m.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
			t.Errorf("Content-Type = %q; want text/plain", ct)
		}
		wantLine := `Eve Bcc: victim@evil.example <b>Eve</b>: <a href="http://evil.example">click</a> Cc: x@evil.example <script>alert(1)</script>`
		if !strings.Contains(m.Body, "\n"+wantLine+"\n") {
			t.Errorf("mail body lacks the excerpt as one plain line %q:\n%s", wantLine, m.Body)
		}
		if strings.ContainsAny(m.Subject+m.Body, "\x00\u202e") {
			t.Errorf("mail keeps a NUL or a bidi override")
		}
	})

	t.Run("a failed mail is retried", func(t *testing.T) {
		n.forgetLastMails(t)
		if err := os.WriteFile(n.mailFile+".FAIL", nil, 0o644); err != nil {
			t.Fatal(err)
		}
		body := notice("n-retry", sam, 4, "Eve", "again")
		code, resp := n.post(t, body, nil)
		if err := os.Remove(n.mailFile + ".FAIL"); err != nil {
			t.Fatal(err)
		}
		if code != 503 {
			t.Errorf("notice while the mailer fails = %d %s; want 503 (pollchat retries)", code, resp)
		}
		n.noMail(t, "failing mailer")
		if code, resp := n.post(t, body, nil); code != 200 {
			t.Errorf("retry = %d %s; want 200", code, resp)
		}
		if m := n.oneMail(t, "retry"); m.Subject != "4 unread messages from Eve" {
			t.Errorf("retry mailed %q; want \"4 unread messages from Eve\"", m.Subject)
		}
	})

	t.Run("settings page shows the route and the notify secret", func(t *testing.T) {
		cookie, _ := n.cookies(t, n.wp.AdminID)
		code, _, b := httpDo(t, "GET", n.wp.SiteURL+"/wp-admin/options-general.php?page=pollchat", nil, map[string]string{"Cookie": cookie})
		page := string(b)
		if code != 200 {
			t.Fatalf("settings page = %d; want 200", code)
		}
		if !strings.Contains(page, `<code id="pollchat_notice_url">`+n.url+`</code>`) {
			t.Errorf("settings page does not show the notice URL %s\n%s", n.url, excerpt(page, "notice"))
		}
		f := regexp.MustCompile(`<input type="password"[^>]*id="pollchat_notify_secret"[^>]*value="([^"]*)"`).FindStringSubmatch(page)
		if f == nil || f[1] != n.notifySecret || !strings.Contains(page, `id="pollchat_notify_secret_copy"`) {
			t.Errorf("settings page notify secret field = %v; want a password field holding %q with a Copy button", f, n.notifySecret)
		}
		// Regenerating it makes the old signatures worthless.
		got := n.saveSettings(t, map[string]any{"clear": []string{"notify_secret"}})
		fresh, _ := got["notify_secret"].(string)
		if len(fresh) < 32 || fresh == n.notifySecret {
			t.Fatalf("regenerated notify secret %q; want a new one of 32+ characters", fresh)
		}
		if code, _ := n.post(t, notice("n-old-secret", sam, 1, "Eve", "x"), nil); code != 401 {
			t.Errorf("notice signed with the old secret = %d; want 401", code)
		}
		n.notifySecret = fresh
		if got := n.saveSettings(t, map[string]any{"notify_secret": "short"}); got["notify_secret"] != fresh {
			t.Errorf("saving a short notify secret stored %q; want it refused", got["notify_secret"])
		}
	})

	t.Run("uninstall removes claims and opt-outs", func(t *testing.T) {
		out := n.wp.PHP(t, fmt.Sprintf(`update_user_meta(%d, 'pollchat_notice_optout', '1');
require_once ABSPATH . 'wp-admin/includes/plugin.php';
deactivate_plugins('pollchat/pollchat.php');
uninstall_plugin('pollchat/pollchat.php');
global $wpdb;
echo wp_json_encode(array(
	'claims' => (int) $wpdb->get_var("SELECT COUNT(*) FROM {$wpdb->options} WHERE option_name LIKE 'pollchat%%'"),
	'optouts' => (int) $wpdb->get_var("SELECT COUNT(*) FROM {$wpdb->usermeta} WHERE meta_key = 'pollchat_notice_optout'"),
));`, sam))
		if got := lastLine(out); got != `{"claims":0,"optouts":0}` {
			t.Errorf("after uninstall %s; want no pollchat options and no opt-outs left", got)
		}
	})

	t.Run("no PHP warnings from the plugin", func(t *testing.T) {
		for _, line := range strings.Split(n.web.Log(), "\n") {
			if strings.Contains(line, "plugins/pollchat/") && regexp.MustCompile(`PHP (Warning|Notice|Deprecated|Fatal error|Parse error)`).MatchString(line) {
				t.Errorf("php -S log: %s", line)
			}
		}
	})
}

// setMailsInProfile ticks or unticks the notice box on the member's own
// profile screen and saves it, as the member would in the browser.
func (n *noticeSite) setMailsInProfile(t *testing.T, user int, on bool) {
	t.Helper()
	cookie, _ := n.cookies(t, user)
	profile := n.wp.SiteURL + "/wp-admin/profile.php"
	code, _, b := httpDo(t, "GET", profile, nil, map[string]string{"Cookie": cookie})
	page := string(b)
	box := regexp.MustCompile(`<input type="checkbox" name="pollchat_notice_mail" id="pollchat_notice_mail" value="1" ( checked='checked')? />`).FindStringSubmatch(page)
	if code != 200 || box == nil {
		t.Fatalf("profile.php = %d; want 200 with the notice box\n%s", code, excerpt(page, "pollchat"))
	}
	m := reNonce.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("profile.php has no _wpnonce")
	}
	var u struct{ Email, Nickname, Display string }
	if err := json.Unmarshal([]byte(lastLine(n.wp.PHP(t, fmt.Sprintf(`$u = get_userdata(%d); echo wp_json_encode(array('Email' => $u->user_email, 'Nickname' => $u->nickname, 'Display' => $u->display_name));`, user)))), &u); err != nil {
		t.Fatal(err)
	}
	form := url.Values{
		"_wpnonce": {m[1]}, "_wp_http_referer": {"/wp-admin/profile.php"}, "from": {"profile"},
		"checkuser_id": {strconv.Itoa(user)}, "action": {"update"}, "user_id": {strconv.Itoa(user)},
		"email": {u.Email}, "nickname": {u.Nickname}, "display_name": {u.Display},
		"pollchat_notice_sent": {"1"},
	}
	if on {
		form.Set("pollchat_notice_mail", "1")
	}
	code, hdr, b := httpDo(t, "POST", profile, strings.NewReader(form.Encode()), map[string]string{"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
	if code != 302 || !strings.Contains(hdr.Get("Location"), "updated=1") {
		t.Fatalf("saving the profile = %d (Location %q); want 302 to ?updated=1\n%.500s", code, hdr.Get("Location"), b)
	}
	got := lastLine(n.wp.PHP(t, fmt.Sprintf(`echo wp_json_encode(get_user_meta(%d, 'pollchat_notice_optout', true));`, user)))
	if want := map[bool]string{true: `""`, false: `"1"`}[on]; got != want {
		t.Fatalf("after saving the profile with mails %v the opt-out meta is %s; want %s", on, got, want)
	}
}
