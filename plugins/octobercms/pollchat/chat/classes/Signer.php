<?php namespace Pollchat\Chat\Classes;

/**
 * Signs the logged-in user's identity for pollchat (docs/protocol.md section 1):
 * the legacy id/timestamp/hash or an HS256 JWT. Plain PHP, no October
 * classes, so php-cli tests it alone. The secret never leaves this class.
 */
class Signer
{
    /** @var string pollchat's auth.secret */
    private $secret;

    public function __construct($secret)
    {
        $this->secret = (string) $secret;
    }

    /**
     * The legacy timestamp: yyMMddHHmmss in UTC.
     */
    public static function timestamp($now = null)
    {
        return gmdate('ymdHis', $now === null ? time() : (int) $now);
    }

    /**
     * Lowercase hex SHA1 of the parts followed by the secret.
     */
    public function hash(...$parts)
    {
        return sha1(implode('', array_map('strval', $parts)) . $this->secret);
    }

    /**
     * A signed popup link (/chat, docs/protocol.md section 5): {id, target,
     * timestamp, hash} with hash = SHA1(id . target . timestamp .
     * link_secret). Links have a key of their own (pollchat's
     * auth.link_secret): signed with the identity secret, the link for
     * (12, 3) would be the identity of user "123". Static, so an identity
     * signer is never used for a link; null without a link secret.
     */
    public static function chatLink($linkSecret, $userId, $target, $now = null)
    {
        $linkSecret = (string) $linkSecret;
        if ($linkSecret === '') {
            return null;
        }
        $id = (string) $userId;
        $to = (string) $target;
        $ts = self::timestamp($now);
        return ['id' => $id, 'target' => $to, 'timestamp' => $ts, 'hash' => sha1($id . $to . $ts . $linkSecret)];
    }

    /**
     * {id, timestamp, hash} for a user.
     */
    public function legacy($userId, $now = null)
    {
        $id = (string) $userId;
        $ts = self::timestamp($now);
        return ['id' => $id, 'timestamp' => $ts, 'hash' => $this->hash($id, $ts)];
    }

    /**
     * An HS256 JWT with user_id (a string), iat and exp, plus extra claims.
     */
    public function token($userId, $ttl, array $extra = [], $now = null)
    {
        $now = $now === null ? time() : (int) $now;
        $claims = array_merge($extra, [
            'user_id' => (string) $userId,
            'iat' => $now,
            'exp' => $now + max(1, (int) $ttl),
        ]);
        $flags = JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE;
        $input = self::base64url(json_encode(['alg' => 'HS256', 'typ' => 'JWT'], $flags))
            . '.' . self::base64url(json_encode($claims, $flags));
        return $input . '.' . self::base64url(hash_hmac('sha256', $input, $this->secret, true));
    }

    /**
     * Base64url without padding (RFC 7515).
     */
    public static function base64url($data)
    {
        return rtrim(strtr(base64_encode($data), '+/', '-_'), '=');
    }
}
