<?php namespace Pollchat\Chat\Classes;

/**
 * pollchat's missed-message notices (docs/protocol.md, "Missed-message
 * notices"): checks the signature and the notice, and decides whether to
 * mail the member. Plain PHP: routes.php hands it the request and what it
 * needs from October (members, opt-outs, the cache, the mailer).
 */
class Notice
{
    /** A signature older or newer than this many seconds is refused. */
    const SKEW = 300;

    /** How long a handled notice id is remembered. */
    const REMEMBER = 86400;

    /** Least time between two notice mails to one member. */
    const INTERVAL = 600;

    /** Largest body accepted, in bytes. */
    const MAX_BODY = 65536;

    /**
     * Whether the signature is "sha256=" and the lowercase hex HMAC-SHA256
     * of timestamp.body keyed by the notify secret (constant-time compare),
     * made within SKEW seconds of now. An empty secret refuses everything.
     */
    public static function signatureOk($secret, $timestamp, $signature, $body, $now)
    {
        $secret = (string) $secret;
        $timestamp = (string) $timestamp;
        if ($secret === '' || !preg_match('/^[0-9]{1,12}$/', $timestamp) || abs($now - (int) $timestamp) > self::SKEW) {
            return false;
        }
        return hash_equals('sha256=' . hash_hmac('sha256', $timestamp . '.' . (string) $body, $secret), (string) $signature);
    }

    /**
     * Text made safe for a plain-text mail and its subject: valid UTF-8, no
     * control, format or line separator characters, whitespace collapsed,
     * at most $max characters.
     */
    public static function plain($text, $max)
    {
        if (!is_string($text)) {
            return '';
        }
        // json_decode gives valid UTF-8 only; anything else is dropped.
        if (!preg_match('//u', $text)) {
            return '';
        }
        $text = (string) preg_replace('/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]+/u', ' ', $text);
        $text = trim((string) preg_replace('/\s+/u', ' ', $text));
        // Characters counted with PCRE, not mbstring (which may be missing).
        if (preg_match_all('/./us', $text) > $max && preg_match('/^.{' . ($max - 1) . '}/us', $text, $m)) {
            $text = rtrim($m[0]) . "\u{2026}";
        }
        return $text;
    }

    /**
     * The checked notice {id, user_id, count, senders, excerpt}, or a
     * string saying what is wrong.
     */
    public static function parse($n)
    {
        if (!is_array($n)) {
            return 'not a JSON object';
        }
        if (!isset($n['id']) || !is_string($n['id']) || !preg_match('/^[A-Za-z0-9_-]{1,64}$/', $n['id'])) {
            return 'id';
        }
        if (!isset($n['type']) || $n['type'] !== 'unread') {
            return 'type';
        }
        $uid = isset($n['user_id']) ? $n['user_id'] : null;
        if (!(is_string($uid) || is_int($uid)) || !preg_match('/^[0-9]{1,19}$/', (string) $uid)) {
            return 'user_id';
        }
        if (!isset($n['count']) || !is_int($n['count']) || $n['count'] < 1 || $n['count'] > 1000000) {
            return 'count';
        }
        $senders = [];
        if (isset($n['senders'])) {
            if (!is_array($n['senders'])) {
                return 'senders';
            }
            foreach (array_slice($n['senders'], 0, 10) as $s) {
                $name = is_array($s) && isset($s['name']) ? self::plain($s['name'], 60) : '';
                // A system message's sender (user_id null) is the site, not a person.
                if ($name !== '' && isset($s['user_id']) && !in_array($name, $senders, true)) {
                    $senders[] = $name;
                }
            }
        }
        return [
            'id' => $n['id'],
            'user_id' => (string) $uid,
            'count' => $n['count'],
            'senders' => $senders,
            'excerpt' => isset($n['excerpt']) ? self::plain($n['excerpt'], 140) : '',
        ];
    }

    /**
     * "3 unread messages from Eve" and its variants, through $choice
     * (trans_choice: key, number, replacements).
     */
    public static function subject(array $notice, callable $choice)
    {
        $s = $notice['senders'];
        $c = $notice['count'];
        switch (count($s)) {
            case 0:
                return $choice('pollchat.chat::lang.notice.subject_none', $c, ['count' => $c]);
            case 1:
                return $choice('pollchat.chat::lang.notice.subject_one', $c, ['count' => $c, 'name' => $s[0]]);
            case 2:
                return $choice('pollchat.chat::lang.notice.subject_two', $c, ['count' => $c, 'name' => $s[0], 'other' => $s[1]]);
            default:
                return $choice('pollchat.chat::lang.notice.subject_many', count($s) - 1, ['count' => $c, 'name' => $s[0], 'others' => count($s) - 1]);
        }
    }

    /**
     * The whole answer: [status, headers, body]. $deps:
     * - user(string $id): the member (with email) or null;
     * - optedOut(member): bool;
     * - claim(string $key, int $seconds): true for exactly one caller;
     * - release(string $key);
     * - mail(member, array $vars): bool, where $vars has subject, name,
     *   excerpt, sender, link (all plain text).
     */
    public static function respond(array $server, $body, array $settings, array $deps, $now)
    {
        $headers = ['Content-Type' => 'application/json; charset=utf-8', 'Cache-Control' => 'no-store'];
        $fail = function ($status, $code, $message) use ($headers) {
            return [$status, $headers, json_encode(['error' => ['code' => $code, 'message' => $message]])];
        };
        $h = function ($name) use ($server) {
            $key = 'HTTP_' . strtoupper(str_replace('-', '_', $name));
            return isset($server[$key]) && is_string($server[$key]) ? $server[$key] : '';
        };
        $body = (string) $body;
        if (!self::signatureOk(isset($settings['notify_secret']) ? $settings['notify_secret'] : '', $h('X-Pollchat-Timestamp'), $h('X-Pollchat-Signature'), $body, $now)) {
            return $fail(401, 'AUTH_FAILED', 'wrong, missing or expired notice signature');
        }
        if (strlen($body) > self::MAX_BODY) {
            return $fail(413, 'BAD_REQUEST', 'notice too large');
        }
        $n = self::parse(json_decode($body, true));
        if (is_string($n)) {
            return $fail(400, 'BAD_REQUEST', 'malformed notice: ' . $n);
        }
        if ($h('X-Pollchat-Notice') !== '' && $h('X-Pollchat-Notice') !== $n['id']) {
            return $fail(400, 'BAD_REQUEST', 'X-Pollchat-Notice differs from the body\'s id');
        }
        $ok = [200, $headers, '{"ok":true}'];
        $noticeKey = 'pollchat_notice_' . $n['id'];
        if (!$deps['claim']($noticeKey, self::REMEMBER)) {
            return $ok;
        }
        $user = $deps['user']($n['user_id']);
        if (!$user || !filter_var((string) $user->email, FILTER_VALIDATE_EMAIL) || $deps['optedOut']($user)) {
            return $ok;
        }
        $userKey = 'pollchat_notice_user_' . $n['user_id'];
        if (!$deps['claim']($userKey, self::INTERVAL)) {
            return $ok;
        }
        $link = isset($settings['notify_link']) && (string) $settings['notify_link'] !== '' ? (string) $settings['notify_link'] : (isset($settings['home']) ? (string) $settings['home'] : '');
        $vars = [
            'subject' => self::subject($n, $deps['choice']),
            'name' => self::plain(UsersInfo::displayName($user), 100),
            'sender' => $n['senders'] ? $n['senders'][0] : '',
            'excerpt' => $n['excerpt'],
            'link' => $link,
        ];
        if (!$deps['mail']($user, $vars)) {
            $deps['release']($userKey);
            $deps['release']($noticeKey);
            return $fail(503, 'UNAVAILABLE', 'the mail could not be sent; try again later');
        }
        return $ok;
    }
}
