<?php namespace Pollchat\Chat\Classes;

/**
 * The options for Pollchat.init for one user, signed with the secret
 * (which stays here), and the HTML-safe JSON of them. Plain PHP.
 */
class WidgetConfig
{
    /** Colour keys, as Pollchat.init's layout option names them. */
    const COLOURS = ['header', 'headerButton', 'body', 'launcher', 'messageSent', 'messageReceived'];

    /** Lifetime of a JWT handed to the widget, in seconds. */
    const TOKEN_TTL = 43200;

    /**
     * Whether the settings allow showing the chat at all.
     */
    public static function configured(array $s)
    {
        return !empty($s['server_url']) && !empty($s['secret']);
    }

    /**
     * Whether a user in these groups gets the chat: no groups chosen means
     * everyone logged in.
     */
    public static function allowed(array $groupCodes, array $s)
    {
        $want = UsersInfo::codes(isset($s['groups']) ? $s['groups'] : '');
        return !$want || (bool) array_intersect($groupCodes, $want);
    }

    /**
     * The init options.
     *
     * @param array  $s      settings: server_url, secret, scheme, position,
     *                       colour_*, font_family, language
     * @param string $userId the user's id
     * @param string $name   display name (JWT claim)
     * @param string $avatar avatar URL (JWT claim)
     */
    public static function build(array $s, $userId, $name = '', $avatar = '', $now = null)
    {
        $signer = new Signer($s['secret']);
        $config = ['server' => rtrim((string) $s['server_url'], '/')];
        if (isset($s['scheme']) && $s['scheme'] === 'jwt') {
            $claims = array_filter(['name' => (string) $name, 'avatar_url' => (string) $avatar], 'strlen');
            $config['token'] = $signer->token($userId, self::TOKEN_TTL, $claims, $now);
        } else {
            $config = array_merge($config, $signer->legacy($userId, $now));
        }
        $config['position'] = isset($s['position']) && $s['position'] === 'bottom-left' ? 'bottom-left' : 'bottom-right';
        $colours = [];
        foreach (self::COLOURS as $key) {
            $v = isset($s['colour_' . $key]) ? trim((string) $s['colour_' . $key]) : '';
            if (preg_match('/^#([0-9a-fA-F]{3}){1,2}$/', $v)) {
                $colours[$key] = $v;
            }
        }
        $font = isset($s['font_family']) ? preg_replace('/[^A-Za-z0-9 ,\'"\-]/', '', (string) $s['font_family']) : '';
        $font = trim(preg_replace('/\s+/', ' ', $font));
        if ($font !== '') {
            $colours['fontFamily'] = $font;
        }
        if ($colours) {
            // The widget's name for colours and font.
            $config['layout'] = $colours;
        }
        $lang = isset($s['language']) ? trim((string) $s['language']) : '';
        if (preg_match('/^[a-z]{2,3}([-_][A-Za-z]{2,4})?$/', $lang)) {
            // Unset, the widget follows the page's <html lang>.
            $config['lang'] = $lang;
        }
        return $config;
    }

    /**
     * JSON safe inside a <script> element.
     */
    public static function json(array $config)
    {
        return json_encode($config, JSON_HEX_TAG | JSON_HEX_AMP | JSON_HEX_APOS | JSON_HEX_QUOT | JSON_UNESCAPED_SLASHES);
    }

    /**
     * The popup chat page ({server}/chat?id&target&timestamp&hash) for me
     * and target, signed with the link secret (never the identity secret);
     * '' without a link secret or a server.
     */
    public static function popupUrl(array $s, $me, $target, $now = null)
    {
        $server = isset($s['server_url']) ? rtrim((string) $s['server_url'], '/') : '';
        $link = Signer::chatLink(isset($s['link_secret']) ? $s['link_secret'] : '', $me, $target, $now);
        if ($server === '' || !$link) {
            return '';
        }
        return $server . '/chat?' . http_build_query($link, '', '&', PHP_QUERY_RFC3986);
    }

    /**
     * A "Chat with" link: the widget opens the dialog on click; without it
     * (scripts blocked) the link opens the signed popup page $href.
     */
    public static function link($userId, $text, $href = '')
    {
        $id = htmlspecialchars((string) $userId, ENT_QUOTES, 'UTF-8');
        $text = htmlspecialchars((string) $text, ENT_QUOTES, 'UTF-8');
        if ((string) $href === '') {
            return '<a href="#pollchat-' . $id . '" class="pollchat-link" data-pollchat-user="' . $id . '">' . $text . '</a>';
        }
        return '<a href="' . htmlspecialchars((string) $href, ENT_QUOTES, 'UTF-8') . '" class="pollchat-link" data-pollchat-user="' . $id
            . '" target="_blank" rel="noopener noreferrer nofollow">' . $text . '</a>';
    }
}
