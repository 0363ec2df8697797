<?php
/**
 * Signs the logged-in user's identity for pollchat (docs/protocol.md section 1).
 *
 * Plain PHP with no WordPress calls, so it can be tested with php-cli alone.
 * The secret never leaves this class: only the id, the timestamp and the
 * hash (or the signed token) are handed to the browser.
 *
 * @package Pollchat
 */

if ( ! class_exists( 'Pollchat_Signer' ) ) {

	/**
	 * Legacy hash (eStreamChat) and HS256 JWT (ImbaChat) identities.
	 */
	class Pollchat_Signer {

		/**
		 * The shared secret (pollchat's auth.secret).
		 *
		 * @var string
		 */
		private $secret;

		/**
		 * @param string $secret The shared secret.
		 */
		public function __construct( $secret ) {
			$this->secret = (string) $secret;
		}

		/**
		 * The legacy timestamp: yyMMddHHmmss in UTC.
		 *
		 * @param int|null $now Unix time; null means now.
		 * @return string
		 */
		public static function timestamp( $now = null ) {
			return gmdate( 'ymdHis', null === $now ? time() : (int) $now );
		}

		/**
		 * Lowercase hex SHA1 of the parts followed by the secret.
		 *
		 * @param string ...$parts Id and timestamp.
		 * @return string
		 */
		public function hash( ...$parts ) {
			return sha1( implode( '', array_map( 'strval', $parts ) ) . $this->secret );
		}

		/**
		 * A signed popup link (/chat, docs/protocol.md section 5):
		 * {id, target, timestamp, hash} with hash = SHA1(id . target .
		 * timestamp . link_secret). Links have a key of their own: signed
		 * with the identity secret, the link for (12, 3) would be the
		 * identity of user "123". Static, so no identity signer is ever
		 * used for a link; null when the link secret is empty.
		 *
		 * @param string     $link_secret pollchat's auth.link_secret.
		 * @param string|int $user_id     The user opening the popup.
		 * @param string|int $target      The other user.
		 * @param int|null   $now         Unix time; null means now.
		 * @return array{id:string,target:string,timestamp:string,hash:string}|null
		 */
		public static function chat_link( $link_secret, $user_id, $target, $now = null ) {
			$link_secret = (string) $link_secret;
			if ( '' === $link_secret ) {
				return null;
			}
			$id = (string) $user_id;
			$to = (string) $target;
			$ts = self::timestamp( $now );
			return array(
				'id'        => $id,
				'target'    => $to,
				'timestamp' => $ts,
				'hash'      => sha1( $id . $to . $ts . $link_secret ),
			);
		}

		/**
		 * The legacy identity for a user: {id, timestamp, hash}.
		 *
		 * @param string|int $user_id The user's id.
		 * @param int|null   $now     Unix time; null means now.
		 * @return array{id:string,timestamp:string,hash:string}
		 */
		public function legacy( $user_id, $now = null ) {
			$id = (string) $user_id;
			$ts = self::timestamp( $now );
			return array(
				'id'        => $id,
				'timestamp' => $ts,
				'hash'      => $this->hash( $id, $ts ),
			);
		}

		/**
		 * An HS256 JWT with user_id (a string) and exp, plus optional claims.
		 *
		 * @param string|int $user_id The user's id.
		 * @param int        $ttl     Lifetime in seconds.
		 * @param array      $extra   More claims (name, avatar_url).
		 * @param int|null   $now     Unix time; null means now.
		 * @return string
		 */
		public function token( $user_id, $ttl, array $extra = array(), $now = null ) {
			$now    = null === $now ? time() : (int) $now;
			$claims = array_merge(
				$extra,
				array(
					'user_id' => (string) $user_id,
					'iat'     => $now,
					'exp'     => $now + max( 1, (int) $ttl ),
				)
			);
			$header = array(
				'alg' => 'HS256',
				'typ' => 'JWT',
			);
			$flags  = JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE;
			$input  = self::base64url( json_encode( $header, $flags ) ) . '.' . self::base64url( json_encode( $claims, $flags ) );
			return $input . '.' . self::base64url( hash_hmac( 'sha256', $input, $this->secret, true ) );
		}

		/**
		 * Base64url without padding (RFC 7515).
		 *
		 * @param string $data Bytes.
		 * @return string
		 */
		public static function base64url( $data ) {
			return rtrim( strtr( base64_encode( $data ), '+/', '-_' ), '=' );
		}
	}
}
