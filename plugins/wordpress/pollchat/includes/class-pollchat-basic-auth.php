<?php
/**
 * HTTP Basic credentials of the current request, for the users-info route.
 *
 * Plain PHP with no WordPress calls. PHP puts Basic credentials in
 * PHP_AUTH_USER / PHP_AUTH_PW under mod_php and the built-in server; under
 * CGI/FastCGI they arrive only as HTTP_AUTHORIZATION (or, after an Apache
 * rewrite, REDIRECT_HTTP_AUTHORIZATION), so all three are read.
 *
 * @package Pollchat
 */

if ( ! class_exists( 'Pollchat_Basic_Auth' ) ) {

	/**
	 * Reads and checks Basic credentials.
	 */
	class Pollchat_Basic_Auth {

		/**
		 * The credentials the request carries.
		 *
		 * @param array $server $_SERVER or a stand-in.
		 * @return array{0:string,1:string}|null Login and password, or null.
		 */
		public static function credentials( array $server ) {
			if ( isset( $server['PHP_AUTH_USER'] ) ) {
				return array( (string) $server['PHP_AUTH_USER'], isset( $server['PHP_AUTH_PW'] ) ? (string) $server['PHP_AUTH_PW'] : '' );
			}
			foreach ( array( 'HTTP_AUTHORIZATION', 'REDIRECT_HTTP_AUTHORIZATION' ) as $key ) {
				if ( empty( $server[ $key ] ) || ! is_string( $server[ $key ] ) ) {
					continue;
				}
				if ( ! preg_match( '/^Basic\s+([A-Za-z0-9+\/=]+)\s*$/i', $server[ $key ], $m ) ) {
					return null;
				}
				$plain = base64_decode( $m[1], true );
				if ( false === $plain || false === strpos( $plain, ':' ) ) {
					return null;
				}
				list( $login, $password ) = explode( ':', $plain, 2 );
				return array( $login, $password );
			}
			return null;
		}

		/**
		 * Whether the request carries exactly login:password. An empty
		 * configured password refuses everyone: the route stays closed until
		 * the admin sets one.
		 *
		 * @param array  $server   $_SERVER or a stand-in.
		 * @param string $login    The expected login.
		 * @param string $password The expected password.
		 * @return bool
		 */
		public static function check( array $server, $login, $password ) {
			if ( '' === (string) $password ) {
				return false;
			}
			$got = self::credentials( $server );
			if ( null === $got ) {
				return false;
			}
			// Both compared, always, so the time does not tell which one was wrong.
			$ok_login    = hash_equals( (string) $login, $got[0] );
			$ok_password = hash_equals( (string) $password, $got[1] );
			return $ok_login && $ok_password;
		}
	}
}
