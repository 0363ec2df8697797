package plugins

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"pollchat/bridge"
	"pollchat/config"
)

// signers: how each plugin's signing class is loaded and called from PHP.
// Both are plain PHP, so php-cli runs them without WordPress or October.
var signers = []struct {
	plugin string
	load   string // PHP that defines the class
	newS   string // PHP expression: a signer for $secret
	link   string // PHP expression: a chat link for $id and '7' signed with $linkSecret
}{
	{"wordpress", "require " + q(filepath.Join(wordpressPlugin, "includes", "class-pollchat-signer.php")) + ";", "new Pollchat_Signer($secret)", "Pollchat_Signer::chat_link($linkSecret, $id, '7', $now)"},
	{"octobercms", "require " + q(filepath.Join(octoberPlugin, "classes", "Signer.php")) + ";", "new \\Pollchat\\Chat\\Classes\\Signer($secret)", "\\Pollchat\\Chat\\Classes\\Signer::chatLink($linkSecret, $id, '7', $now)"},
}

// linkSecret is auth.link_secret in these tests.
const linkSecret = "link secret, not the identity one"

type signed struct {
	Legacy struct {
		ID, Timestamp, Hash string
	}
	Token     string
	Expired   string
	ChatLink  string
	NoLink    bool // no link is signed without a link secret
	Timestamp string
}

// sign runs a plugin's signer for user id at unix time now.
func sign(t *testing.T, load, newS, link, secret, id string, now int64) signed {
	t.Helper()
	var s signed
	phpJSON(t, fmt.Sprintf(`%s
$secret = %s; $linkSecret = %s; $id = %s; $now = %d; $s = %s;
$link = %s;
$linkSecret = '';
$noLink = %s;
if ($link['id'] !== $id || $link['target'] !== '7' || $link['timestamp'] !== $s->timestamp($now)) { fwrite(STDERR, 'bad link ' . json_encode($link)); }
echo json_encode(array(
	'Legacy' => array_combine(array('ID', 'Timestamp', 'Hash'), array_values($s->legacy($id, $now))),
	'Token' => $s->token($id, 3600, array('name' => "Zoë \"Z\" </script>", 'avatar_url' => 'https://example.com/a.png'), $now),
	'Expired' => $s->token($id, 3600, array(), $now - 7200),
	'ChatLink' => $link['hash'],
	'NoLink' => null === $noLink,
	'Timestamp' => $s->timestamp($now),
));`, load, q(secret), q(linkSecret), q(id), now, newS, link, link), &s)
	return s
}

// TestSignersVerifyWithServer signs identities with each plugin's PHP
// class and checks them with the server's own verifier (bridge.Verifier):
// the legacy hash, the HS256 token with its claims, the chat-link hash
// (signed with the link secret, and no identity), and that a wrong secret
// or an old token is refused.
func TestSignersVerifyWithServer(t *testing.T) {
	const secret = "s3cret with spaces & ünïcode"
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	verifier := func(secret string) *bridge.Verifier {
		v, err := bridge.NewVerifier(config.Auth{Secret: secret, LinkSecret: linkSecret})
		if err != nil {
			t.Fatal(err)
		}
		v.Now = func() time.Time { return now }
		return v
	}
	good, wrong := verifier(secret), verifier(secret+"x")
	for _, sg := range signers {
		for _, id := range []string{"6", "john82"} {
			t.Run(sg.plugin+"/"+id, func(t *testing.T) {
				s := sign(t, sg.load, sg.newS, sg.link, secret, id, now.Unix())
				if s.Timestamp != "261122100000" || s.Legacy.Timestamp != s.Timestamp {
					t.Errorf("timestamp = %q (legacy %q); want 261122100000", s.Timestamp, s.Legacy.Timestamp)
				}
				if idn, err := good.VerifyHash(s.Legacy.ID, s.Legacy.Timestamp, s.Legacy.Hash); err != nil || idn.UserID != id {
					t.Errorf("VerifyHash(%q, %q, %q) = %+v, %v; want user %q", s.Legacy.ID, s.Legacy.Timestamp, s.Legacy.Hash, idn, err, id)
				}
				if _, err := wrong.VerifyHash(s.Legacy.ID, s.Legacy.Timestamp, s.Legacy.Hash); !errors.Is(err, bridge.ErrAuthFailed) {
					t.Errorf("VerifyHash with another secret = %v; want ErrAuthFailed", err)
				}
				if _, err := good.VerifyChatLink(id, "7", s.Timestamp, s.ChatLink); err != nil {
					t.Errorf("VerifyChatLink(%q, 7, %q, %q) = %v; want nil", id, s.Timestamp, s.ChatLink, err)
				}
				// The link's hash is no identity: not of id+"7" (what a link
				// signed with auth.secret would be), not of id.
				for _, as := range []string{id + "7", id} {
					if _, err := good.VerifyHash(as, s.Timestamp, s.ChatLink); err == nil {
						t.Errorf("VerifyHash(%q, %q, link hash) = nil; want refused (a link is no login)", as, s.Timestamp)
					}
				}
				if !s.NoLink {
					t.Errorf("a chat link was signed without a link secret; want none")
				}
				idn, err := good.VerifyToken(s.Token)
				if err != nil || idn.UserID != id || idn.Name != `Zoë "Z" </script>` || idn.AvatarURL != "https://example.com/a.png" {
					t.Errorf("VerifyToken(%q) = %+v, %v; want user %q with name and avatar claims", s.Token, idn, err, id)
				}
				if !idn.Expires.Equal(now.Add(time.Hour)) {
					t.Errorf("token expires %v; want %v", idn.Expires, now.Add(time.Hour))
				}
				if _, err := wrong.VerifyToken(s.Token); !errors.Is(err, bridge.ErrAuthFailed) {
					t.Errorf("VerifyToken with another secret = %v; want ErrAuthFailed", err)
				}
				if _, err := good.VerifyToken(s.Expired); !errors.Is(err, bridge.ErrTokenExpired) {
					t.Errorf("VerifyToken(token that expired an hour ago) = %v; want ErrTokenExpired", err)
				}
			})
		}
	}
	// Both plugins sign alike.
	a := sign(t, signers[0].load, signers[0].newS, signers[0].link, secret, "6", now.Unix())
	b := sign(t, signers[1].load, signers[1].newS, signers[1].link, secret, "6", now.Unix())
	if a != b {
		t.Errorf("wordpress signed %+v, octobercms %+v; want the same", a, b)
	}
}

// TestBasicAuthCredentials checks how each plugin reads Basic credentials
// from $_SERVER (mod_php/php -S, FastCGI, Apache rewrite) and compares them.
func TestBasicAuthCredentials(t *testing.T) {
	classes := []struct{ plugin, load, class string }{
		{"wordpress", "require " + q(filepath.Join(wordpressPlugin, "includes", "class-pollchat-basic-auth.php")) + ";", "Pollchat_Basic_Auth"},
		{"octobercms", "require " + q(filepath.Join(octoberPlugin, "classes", "BasicAuth.php")) + ";", "\\Pollchat\\Chat\\Classes\\BasicAuth"},
	}
	cases := []struct {
		name            string
		server          string // PHP array literal
		login, password string
		want            bool
	}{
		{"php auth vars", `array('PHP_AUTH_USER' => 'pollchat', 'PHP_AUTH_PW' => 'pw:with:colons')`, "pollchat", "pw:with:colons", true},
		{"authorization header", `array('HTTP_AUTHORIZATION' => 'Basic ' . base64_encode('pollchat:pw:with:colons'))`, "pollchat", "pw:with:colons", true},
		{"redirect header", `array('REDIRECT_HTTP_AUTHORIZATION' => 'basic ' . base64_encode('pollchat:pw'))`, "pollchat", "pw", true},
		{"wrong password", `array('PHP_AUTH_USER' => 'pollchat', 'PHP_AUTH_PW' => 'nope')`, "pollchat", "pw", false},
		{"wrong login", `array('HTTP_AUTHORIZATION' => 'Basic ' . base64_encode('admin:pw'))`, "pollchat", "pw", false},
		{"no credentials", `array()`, "pollchat", "pw", false},
		{"bearer", `array('HTTP_AUTHORIZATION' => 'Bearer abc')`, "pollchat", "pw", false},
		{"bad base64", `array('HTTP_AUTHORIZATION' => 'Basic !!!')`, "pollchat", "pw", false},
		{"no colon", `array('HTTP_AUTHORIZATION' => 'Basic ' . base64_encode('pollchat'))`, "pollchat", "pw", false},
		{"empty configured password refuses", `array('PHP_AUTH_USER' => 'pollchat', 'PHP_AUTH_PW' => '')`, "pollchat", "", false},
	}
	for _, c := range classes {
		for _, tc := range cases {
			t.Run(c.plugin+"/"+tc.name, func(t *testing.T) {
				out := runPHP(t, fmt.Sprintf("%s\necho %s::check(%s, %s, %s) ? 'yes' : 'no';", c.load, c.class, tc.server, q(tc.login), q(tc.password)))
				if got := out == "yes"; got != tc.want {
					t.Errorf("%s::check(%s, %q, %q) = %v; want %v", c.class, tc.server, tc.login, tc.password, got, tc.want)
				}
			})
		}
	}
}
