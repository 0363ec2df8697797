<?php namespace Pollchat\Chat\Classes;

/**
 * Tells pollchat to drop users from its cache (POST /api/v1/users/invalidate
 * with the backend API's Basic auth), so a changed name shows at once.
 * Plain PHP over PHP's own HTTP stream wrapper (no curl, no October).
 */
class Invalidator
{
    /** Attributes whose change does not show in the chat. */
    const IGNORED = [
        'last_login', 'last_seen', 'last_ip_address', 'created_ip_address', 'updated_at',
        'persist_code', 'reset_password_code', 'activation_code', 'password', 'remember_token',
    ];

    /**
     * Whether a save that changed these attributes should invalidate. An
     * empty list (a relation-only save, e.g. a new avatar) does.
     */
    public static function relevant(array $changed)
    {
        return !$changed || (bool) array_diff($changed, self::IGNORED);
    }

    /**
     * Sends the ids. Returns true when pollchat answered 200; a failure is
     * logged with error_log and otherwise ignored (cache entries expire by
     * themselves after users.cache_ttl).
     *
     * @param string   $server   pollchat's base URL
     * @param string   $login    api.login
     * @param string   $password api.password
     * @param array    $ids      user ids
     * @param int      $timeout  seconds
     */
    public static function send($server, $login, $password, array $ids, $timeout = 1)
    {
        $server = rtrim((string) $server, '/');
        if ($server === '' || (string) $password === '' || !$ids) {
            return false;
        }
        $body = json_encode(['user_ids' => array_values(array_map('strval', $ids))]);
        $context = stream_context_create(['http' => [
            'method' => 'POST',
            'header' => "Content-Type: application/json\r\n"
                . 'Authorization: Basic ' . base64_encode($login . ':' . $password) . "\r\n"
                . 'Content-Length: ' . strlen($body) . "\r\n",
            'content' => $body,
            'timeout' => (float) $timeout,
            'ignore_errors' => true,
            'follow_location' => 0,
        ]]);
        $answer = @file_get_contents($server . '/api/v1/users/invalidate', false, $context);
        $status = 0;
        // $http_response_header is set by file_get_contents in this scope.
        if (isset($http_response_header[0]) && preg_match('#^HTTP/\S+\s+(\d{3})#', $http_response_header[0], $m)) {
            $status = (int) $m[1];
        }
        if ($answer === false || $status !== 200) {
            error_log('pollchat: invalidate ' . implode(',', $ids) . ': ' . ($status ? 'HTTP ' . $status : 'no answer'));
            return false;
        }
        return true;
    }
}
