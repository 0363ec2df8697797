<?php namespace Pollchat\Chat\Classes;

/**
 * The users-info answer pollchat asks for (docs/protocol.md section 7, the
 * ImbaChat format): GET ?user_ids=1,2,3 with Basic auth, a JSON array of
 * {user_id, name, avatar_url, profile_url, role}. Plain PHP: the route in
 * routes.php hands it the request and a function that loads RainLab users.
 */
class UsersInfo
{
    /** Most ids one call may ask for. */
    const MAX_IDS = 100;

    /**
     * "1,2,3" as unique positive integer ids; null when malformed or too long.
     */
    public static function parseIds($value)
    {
        if (!is_string($value) || !preg_match('/^\s*\d+\s*(,\s*\d+\s*)*$/', $value)) {
            return null;
        }
        $ids = array_values(array_unique(array_filter(array_map('intval', explode(',', $value)))));
        return count($ids) > self::MAX_IDS ? null : $ids;
    }

    /**
     * The whole answer: [status, headers, body].
     *
     * @param array    $server   $_SERVER (for the Basic credentials)
     * @param mixed    $userIds  the user_ids query parameter
     * @param array    $settings users_login, users_password, admin_groups,
     *                           mod_groups, profile_url
     * @param callable $load     function (int[] $ids): iterable of users
     *                           (RainLab User models or like objects)
     */
    public static function respond(array $server, $userIds, array $settings, callable $load)
    {
        $headers = ['Content-Type' => 'application/json; charset=utf-8', 'Cache-Control' => 'no-store'];
        $login = isset($settings['users_login']) ? (string) $settings['users_login'] : '';
        $password = isset($settings['users_password']) ? (string) $settings['users_password'] : '';
        if (!BasicAuth::check($server, $login, $password)) {
            $headers['WWW-Authenticate'] = 'Basic realm="pollchat users-info"';
            return [401, $headers, self::json(['error' => ['code' => 'AUTH_FAILED', 'message' => 'wrong or missing users-info credentials']])];
        }
        $ids = self::parseIds($userIds);
        if ($ids === null) {
            return [400, $headers, self::json(['error' => ['code' => 'BAD_REQUEST', 'message' => 'user_ids must be a comma-separated list of at most ' . self::MAX_IDS . ' numeric ids']])];
        }
        $rows = [];
        if ($ids) {
            $byId = [];
            foreach ($load($ids) as $user) {
                $row = self::row($user, $settings);
                $byId[$row['user_id']] = $row;
            }
            foreach ($ids as $id) {
                if (isset($byId[(string) $id])) {
                    $rows[] = $byId[(string) $id];
                }
            }
        }
        return [200, $headers, self::json($rows)];
    }

    /**
     * One user in the users-info format. Reads RainLab.User's attributes of
     * every version: name/surname (1.x, 2.x) or first_name/last_name (3.x),
     * username; avatar from getAvatarThumb(); role from group codes.
     */
    public static function row($user, array $settings)
    {
        $id = (string) self::attr($user, 'id');
        $avatar = '';
        if (is_object($user) && method_exists($user, 'getAvatarThumb')) {
            $avatar = (string) $user->getAvatarThumb(96);
        }
        $profile = isset($settings['profile_url']) ? (string) $settings['profile_url'] : '';
        return [
            'user_id' => $id,
            'name' => self::displayName($user),
            'avatar_url' => $avatar,
            'profile_url' => $profile === '' ? '' : str_replace('{id}', rawurlencode($id), $profile),
            'role' => self::role(self::groupCodes($user), $settings),
        ];
    }

    /**
     * "First Last" unless it is the member's email or username (their login,
     * which would be shown to every chat user), else "User {id}". The
     * username alone is never used: it is how the member logs in.
     */
    public static function displayName($user)
    {
        $private = [];
        foreach (['email', 'username', 'login'] as $key) {
            $v = strtolower(trim((string) self::attr($user, $key)));
            if ($v !== '') {
                $private[] = $v;
            }
        }
        foreach ([['name', 'surname'], ['first_name', 'last_name']] as $pair) {
            $parts = array_filter([trim((string) self::attr($user, $pair[0])), trim((string) self::attr($user, $pair[1]))], 'strlen');
            if (!$parts) {
                continue;
            }
            $name = implode(' ', $parts);
            if (strpos($name, '@') === false && !in_array(strtolower($name), $private, true)) {
                return $name;
            }
        }
        return 'User ' . self::attr($user, 'id');
    }

    /**
     * admin when in one of admin_groups, mod when in one of mod_groups
     * (comma-separated group codes), else member.
     */
    public static function role(array $codes, array $settings)
    {
        foreach (['admin' => 'admin_groups', 'mod' => 'mod_groups'] as $role => $key) {
            $want = self::codes(isset($settings[$key]) ? $settings[$key] : '');
            if (array_intersect($codes, $want)) {
                return $role;
            }
        }
        return 'member';
    }

    /**
     * Codes from "a, b" or an array.
     */
    public static function codes($list)
    {
        $list = is_array($list) ? $list : explode(',', (string) $list);
        return array_values(array_filter(array_map('trim', array_map('strval', $list)), 'strlen'));
    }

    private static function groupCodes($user)
    {
        $groups = self::attr($user, 'groups');
        $codes = [];
        if (is_array($groups) || $groups instanceof \Traversable) {
            foreach ($groups as $g) {
                $code = is_object($g) ? $g->code : (is_array($g) && isset($g['code']) ? $g['code'] : null);
                if ($code !== null) {
                    $codes[] = (string) $code;
                }
            }
        }
        return $codes;
    }

    private static function attr($user, $key)
    {
        if (is_array($user)) {
            return isset($user[$key]) ? $user[$key] : null;
        }
        return isset($user->$key) ? $user->$key : null;
    }

    private static function json($value)
    {
        return json_encode($value, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE);
    }
}
