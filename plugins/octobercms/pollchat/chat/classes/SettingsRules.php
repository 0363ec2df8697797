<?php namespace Pollchat\Chat\Classes;

/**
 * What a settings save may store. Plain PHP (the Settings model calls it
 * before saving), so php-cli tests it alone.
 *
 * - Secrets are password fields, which October renders empty: an empty
 *   value keeps the stored secret.
 * - server_url must be an http(s) address without query or fragment.
 * - The users-info password has at least 16 characters; the link secret at
 *   least 32 and differs from the identity secret (pollchat refuses to
 *   start otherwise). Both are generated when missing, as is the notify
 *   secret (at least 32 characters too).
 * - notify_link (the chat page in notice mails) is empty or http(s).
 */
class SettingsRules
{
    /** Settings that are secrets (password fields). */
    const SECRETS = ['secret', 'api_password', 'users_password'];

    /** Shortest users-info password accepted. */
    const MIN_PASSWORD = 16;

    /** Length of generated secrets, and the shortest link secret. */
    const GENERATED = 32;

    /**
     * A random secret of hex digits from the CSPRNG.
     */
    public static function generate($length = self::GENERATED)
    {
        $length = max(self::GENERATED, (int) $length);
        return substr(bin2hex(random_bytes((int) ceil($length / 2))), 0, $length);
    }

    /**
     * A server URL as stored (no trailing slash), or null when it is not
     * an http(s) address with a host and without query or fragment.
     */
    public static function serverUrl($url)
    {
        $url = trim((string) $url);
        $p = parse_url($url);
        if ($url === '' || !is_array($p) || !isset($p['scheme'], $p['host'])
            || !in_array(strtolower($p['scheme']), ['http', 'https'], true)
            || isset($p['query']) || isset($p['fragment']) || isset($p['user']) || isset($p['pass'])
            || preg_match('/[\s<>"\'\\\\]/', $url)) {
            return null;
        }
        return rtrim($url, '/');
    }

    /**
     * The values to store given the submitted ones and the stored ones:
     * [values, errors]; errors map a field to a message (nothing may be
     * saved when there are any).
     */
    public static function clean(array $new, array $stored)
    {
        $errors = [];
        foreach (self::SECRETS as $key) {
            $v = isset($new[$key]) ? trim((string) $new[$key]) : '';
            $new[$key] = $v !== '' ? $v : (isset($stored[$key]) ? (string) $stored[$key] : '');
        }
        if (isset($new['server_url']) && trim((string) $new['server_url']) !== '') {
            $url = self::serverUrl($new['server_url']);
            if ($url === null) {
                $errors['server_url'] = 'The server URL must be an http:// or https:// address without a query.';
            } else {
                $new['server_url'] = $url;
            }
        }
        $oldUsers = isset($stored['users_password']) ? (string) $stored['users_password'] : '';
        if ($new['users_password'] === '') {
            $new['users_password'] = self::generate();
        } elseif ($new['users_password'] !== $oldUsers && strlen($new['users_password']) < self::MIN_PASSWORD) {
            $errors['users_password'] = 'The users-info password must have at least ' . self::MIN_PASSWORD . ' characters.';
        }
        $link = isset($new['link_secret']) ? trim((string) $new['link_secret']) : '';
        if ($link === '') {
            $link = isset($stored['link_secret']) && (string) $stored['link_secret'] !== '' ? (string) $stored['link_secret'] : self::generate();
        }
        if (strlen($link) < self::GENERATED) {
            $errors['link_secret'] = 'The link secret must have at least ' . self::GENERATED . ' characters.';
        } elseif ($new['secret'] !== '' && hash_equals($new['secret'], $link)) {
            $errors['link_secret'] = 'The link secret must differ from the shared secret: a link would be a login.';
        }
        $new['link_secret'] = $link;
        $notify = isset($new['notify_secret']) ? trim((string) $new['notify_secret']) : '';
        if ($notify === '') {
            $notify = isset($stored['notify_secret']) && (string) $stored['notify_secret'] !== '' ? (string) $stored['notify_secret'] : self::generate();
        }
        if (strlen($notify) < self::GENERATED) {
            $errors['notify_secret'] = 'The notify secret must have at least ' . self::GENERATED . ' characters.';
        }
        $new['notify_secret'] = $notify;
        $notifyLink = isset($new['notify_link']) ? trim((string) $new['notify_link']) : '';
        if ($notifyLink !== '') {
            $p = parse_url($notifyLink);
            if (!is_array($p) || !isset($p['scheme'], $p['host']) || !in_array(strtolower($p['scheme']), ['http', 'https'], true) || preg_match('/[\s<>"\'\\\\]/', $notifyLink)) {
                $errors['notify_link'] = 'The chat page must be an http:// or https:// address.';
            }
        }
        $new['notify_link'] = $notifyLink;
        return [$new, $errors];
    }
}
