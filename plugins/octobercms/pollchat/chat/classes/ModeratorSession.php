<?php namespace Pollchat\Chat\Classes;

/**
 * Asks pollchat for a short-lived moderator session
 * (POST /api/v1/moderator/sessions with the backend API's Basic auth,
 * server to server) and returns the single-use console address to send the
 * browser to. Plain PHP over PHP's own HTTP stream wrapper (no curl, no
 * October), like Invalidator.
 */
class ModeratorSession
{
    /** Lifetime asked for, in seconds (pollchat takes 60..3600). */
    const TTL = 600;

    /**
     * Backend administrators are not members: their chat id is this prefix
     * and the administrator's id, so that the audit log never confuses one
     * with member N.
     */
    const ID_PREFIX = 'backend-';

    /**
     * The name the console and its audit log show for a backend
     * administrator: first and last name, else "Moderator N" (never the
     * login or the email).
     */
    public static function name($user)
    {
        $name = trim(trim((string) ($user->first_name ?? '')) . ' ' . trim((string) ($user->last_name ?? '')));
        if ($name === '' || strpos($name, '@') !== false || strcasecmp($name, (string) ($user->login ?? '')) === 0) {
            $name = 'Moderator ' . $user->id;
        }
        return $name;
    }

    /**
     * The console address pollchat returned, made absolute on the server
     * URL (which may have a path). An absolute address must be on the
     * server URL's origin; anything else gives ''.
     */
    public static function consoleUrl($server, $url)
    {
        $server = rtrim((string) $server, '/');
        if (!is_string($url) || $url === '' || preg_match('/[\x00-\x20\x7f\\\\]/', $url)) {
            return '';
        }
        $base = parse_url($server);
        if (empty($base['scheme']) || empty($base['host'])) {
            return '';
        }
        $origin = strtolower($base['scheme'] . '://' . $base['host']) . (isset($base['port']) ? ':' . $base['port'] : '');
        if (preg_match('#^[A-Za-z][A-Za-z0-9+.-]*:#', $url) || strpos($url, '//') === 0) {
            $p = parse_url($url);
            if (!is_array($p) || empty($p['scheme']) || empty($p['host']) || !in_array(strtolower($p['scheme']), ['http', 'https'], true) || isset($p['user']) || isset($p['pass'])) {
                return '';
            }
            $got = strtolower($p['scheme'] . '://' . $p['host']) . (isset($p['port']) ? ':' . $p['port'] : '');
            return $got === $origin ? $url : '';
        }
        return $server . '/' . ltrim($url, '/');
    }

    /**
     * One session request. Returns ['status' => ok | not_configured |
     * unreachable | credentials | not_found | error, 'url' => console
     * address when ok, 'message' => what went wrong, for the administrator].
     */
    public static function request($server, $login, $password, $userId, $name, $ttl = self::TTL, $timeout = 10)
    {
        $server = rtrim((string) $server, '/');
        if ($server === '' || (string) $password === '') {
            return ['status' => 'not_configured', 'url' => '', 'message' => 'Set the pollchat server URL and the API login and password (Settings → pollchat) first.'];
        }
        $body = json_encode(['user_id' => (string) $userId, 'name' => (string) $name, 'ttl' => (int) $ttl]);
        $context = stream_context_create(['http' => [
            'method' => 'POST',
            'header' => "Content-Type: application/json\r\nAccept: application/json\r\n"
                . 'Authorization: Basic ' . base64_encode($login . ':' . $password) . "\r\n"
                . 'Content-Length: ' . strlen($body) . "\r\n",
            'content' => $body,
            'timeout' => (float) $timeout,
            'ignore_errors' => true,
            'follow_location' => 0,
        ]]);
        $answer = @file_get_contents($server . '/api/v1/moderator/sessions', false, $context);
        $status = 0;
        // $http_response_header is set by file_get_contents in this scope.
        if (isset($http_response_header[0]) && preg_match('#^HTTP/\S+\s+(\d{3})#', $http_response_header[0], $m)) {
            $status = (int) $m[1];
        }
        if ($answer === false || $status === 0) {
            return ['status' => 'unreachable', 'url' => '', 'message' => 'pollchat could not be reached at ' . $server . '.'];
        }
        if ($status === 401 || $status === 403) {
            return ['status' => 'credentials', 'url' => '', 'message' => 'pollchat refused the API login and password: they must be api.login and api.password of its config.toml.'];
        }
        if ($status === 404) {
            return ['status' => 'not_found', 'url' => '', 'message' => 'pollchat answered 404: it is an older version without a moderation console, or its backend API is off.'];
        }
        $decoded = json_decode($answer, true);
        if ($status < 200 || $status > 299 || !is_array($decoded)) {
            return ['status' => 'error', 'url' => '', 'message' => 'pollchat answered HTTP ' . $status . '.'];
        }
        $url = self::consoleUrl($server, isset($decoded['url']) ? $decoded['url'] : '');
        if ($url === '') {
            return ['status' => 'error', 'url' => '', 'message' => 'pollchat answered without a console address on its own server URL.'];
        }
        return ['status' => 'ok', 'url' => $url, 'message' => ''];
    }
}
