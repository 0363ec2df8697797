<?php
/**
 * Calls to pollchat's backend API (HTTP Basic with api.login and
 * api.password), server to server: the password never reaches a browser.
 * Used by the moderation entry and by the personal-data exporter and eraser.
 *
 * @package Pollchat
 */

defined( 'ABSPATH' ) || exit;

/**
 * One backend API call. The answer's status says what happened:
 * not_configured (no server URL or API password), unreachable (no answer),
 * credentials (401/403), not_found (404: an older pollchat, or the API is
 * off), ok (2xx with a JSON object) or error (anything else).
 *
 * @param string     $method  GET, POST or DELETE.
 * @param string     $path    Path under the server URL, e.g. /api/v1/online.
 * @param array|null $body    JSON body, or null for none.
 * @param int        $timeout Seconds.
 * @return array{status:string,code:int,body:array|null,error:string}
 */
function pollchat_api_call( $method, $path, $body = null, $timeout = 10 ) {
	$s   = pollchat_get_settings();
	$out = array(
		'status' => 'not_configured',
		'code'   => 0,
		'body'   => null,
		'error'  => '',
	);
	if ( '' === $s['server_url'] || '' === $s['api_password'] ) {
		return $out;
	}
	$args = array(
		'method'      => $method,
		'timeout'     => $timeout,
		'redirection' => 0,
		'headers'     => array(
			// phpcs:ignore WordPress.PHP.DiscouragedPHPFunctions.obfuscation_base64_encode -- HTTP Basic.
			'Authorization' => 'Basic ' . base64_encode( $s['api_login'] . ':' . $s['api_password'] ),
			'Accept'        => 'application/json',
		),
	);
	if ( null !== $body ) {
		$args['headers']['Content-Type'] = 'application/json';
		$args['body']                    = wp_json_encode( $body );
	}
	$r = wp_remote_request( $s['server_url'] . $path, $args );
	if ( is_wp_error( $r ) ) {
		$out['status'] = 'unreachable';
		$out['error']  = $r->get_error_message();
		return $out;
	}
	$out['code'] = (int) wp_remote_retrieve_response_code( $r );
	$decoded     = json_decode( wp_remote_retrieve_body( $r ), true );
	$out['body'] = is_array( $decoded ) ? $decoded : null;
	if ( 401 === $out['code'] || 403 === $out['code'] ) {
		$out['status'] = 'credentials';
	} elseif ( 404 === $out['code'] ) {
		$out['status'] = 'not_found';
	} elseif ( $out['code'] >= 200 && $out['code'] < 300 && is_array( $decoded ) ) {
		$out['status'] = 'ok';
	} else {
		$out['status'] = 'error';
	}
	return $out;
}

/**
 * What went wrong with a call, for an admin: one sentence.
 *
 * @param array $r A pollchat_api_call() answer that is not ok.
 * @return string
 */
function pollchat_api_problem( array $r ) {
	switch ( $r['status'] ) {
		case 'not_configured':
			return __( 'Set the pollchat server URL and the API login and password (Settings → pollchat) first.', 'pollchat' );
		case 'unreachable':
			/* translators: %s: the error. */
			return sprintf( __( 'pollchat could not be reached: %s', 'pollchat' ), $r['error'] );
		case 'credentials':
			return __( 'pollchat refused the API login and password: they must be api.login and api.password of its config.toml.', 'pollchat' );
		case 'not_found':
			return __( 'pollchat answered 404: it is an older version without this API, or its backend API is off (api.password empty).', 'pollchat' );
	}
	$detail = '';
	if ( is_array( $r['body'] ) && isset( $r['body']['error'] ) ) {
		$e      = $r['body']['error'];
		$detail = is_array( $e ) ? trim( ( isset( $e['code'] ) ? $e['code'] . ': ' : '' ) . ( isset( $e['message'] ) ? $e['message'] : '' ) ) : (string) $e;
	}
	/* translators: 1: HTTP status, 2: pollchat's error, if any. */
	return trim( sprintf( __( 'pollchat answered HTTP %1$d. %2$s', 'pollchat' ), $r['code'], $detail ) );
}
