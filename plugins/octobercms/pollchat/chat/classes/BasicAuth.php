<?php namespace Pollchat\Chat\Classes;

/**
 * HTTP Basic credentials of a request, read from $_SERVER (PHP_AUTH_USER
 * under mod_php and php -S; HTTP_AUTHORIZATION or REDIRECT_HTTP_AUTHORIZATION
 * under FastCGI). Plain PHP.
 */
class BasicAuth
{
    /**
     * [login, password] the request carries, or null.
     */
    public static function credentials(array $server)
    {
        if (isset($server['PHP_AUTH_USER'])) {
            return [(string) $server['PHP_AUTH_USER'], isset($server['PHP_AUTH_PW']) ? (string) $server['PHP_AUTH_PW'] : ''];
        }
        foreach (['HTTP_AUTHORIZATION', 'REDIRECT_HTTP_AUTHORIZATION'] as $key) {
            if (empty($server[$key]) || !is_string($server[$key])) {
                continue;
            }
            if (!preg_match('/^Basic\s+([A-Za-z0-9+\/=]+)\s*$/i', $server[$key], $m)) {
                return null;
            }
            $plain = base64_decode($m[1], true);
            if ($plain === false || strpos($plain, ':') === false) {
                return null;
            }
            return explode(':', $plain, 2);
        }
        return null;
    }

    /**
     * Whether the request carries exactly login:password. An empty
     * configured password refuses everyone.
     */
    public static function check(array $server, $login, $password)
    {
        if ((string) $password === '') {
            return false;
        }
        $got = self::credentials($server);
        if ($got === null) {
            return false;
        }
        $okLogin = hash_equals((string) $login, (string) $got[0]);
        $okPassword = hash_equals((string) $password, (string) $got[1]);
        return $okLogin && $okPassword;
    }
}
