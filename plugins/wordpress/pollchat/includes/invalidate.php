<?php
/**
 * Tells pollchat to forget cached users whose profile changed or who were
 * deleted (POST /api/v1/users/invalidate), so new names show at once.
 * Ids are collected during the request and sent in one call at shutdown,
 * without waiting for the answer: under PHP-FPM after the page was handed
 * to the visitor (fastcgi_finish_request), and as a non-blocking request
 * (at most 1 s) everywhere.
 *
 * @package Pollchat
 */

defined( 'ABSPATH' ) || exit;

/**
 * Ids waiting to be sent; call with an id to add it, without to take all.
 *
 * @param int|null $user_id Id to add.
 * @return string[] The pending ids (emptied when taken).
 */
function pollchat_pending_invalidations( $user_id = null ) {
	static $pending = array();
	if ( null !== $user_id ) {
		$pending[ (string) absint( $user_id ) ] = true;
		return array_keys( $pending );
	}
	$ids     = array_map( 'strval', array_keys( $pending ) );
	$pending = array();
	return $ids;
}

/**
 * Hook target: queue one user.
 *
 * @param int $user_id The user.
 */
function pollchat_queue_invalidation( $user_id ) {
	if ( absint( $user_id ) > 0 ) {
		pollchat_pending_invalidations( $user_id );
	}
}
add_action( 'profile_update', 'pollchat_queue_invalidation' );
add_action( 'deleted_user', 'pollchat_queue_invalidation' );
add_action( 'wpmu_delete_user', 'pollchat_queue_invalidation' );
add_action( 'set_user_role', 'pollchat_queue_invalidation' );
add_action( 'add_user_role', 'pollchat_queue_invalidation' );
add_action( 'remove_user_role', 'pollchat_queue_invalidation' );

/**
 * Sends the queued ids. Needs the server URL and the API password. The
 * request does not wait for pollchat's answer (the cache entries expire by
 * themselves after users.cache_ttl if it is lost).
 *
 * @return array|WP_Error|null The wp_remote_post result, null when nothing was sent.
 */
function pollchat_send_invalidations() {
	$ids = pollchat_pending_invalidations();
	$s   = pollchat_get_settings();
	if ( ! $ids || '' === $s['server_url'] || '' === $s['api_password'] ) {
		return null;
	}
	if ( function_exists( 'fastcgi_finish_request' ) && ! headers_sent() && 'cli' !== PHP_SAPI ) {
		// Hooked last on shutdown, after WordPress flushed its output: the
		// visitor has the whole page before the call starts.
		fastcgi_finish_request();
	}
	$result = wp_remote_post(
		$s['server_url'] . '/api/v1/users/invalidate',
		array(
			'blocking'    => false,
			'timeout'     => 1,
			'redirection' => 0,
			'headers'     => array(
				// phpcs:ignore WordPress.PHP.DiscouragedPHPFunctions.obfuscation_base64_encode -- HTTP Basic.
				'Authorization' => 'Basic ' . base64_encode( $s['api_login'] . ':' . $s['api_password'] ),
				'Content-Type'  => 'application/json',
			),
			'body'        => wp_json_encode( array( 'user_ids' => $ids ) ),
		)
	);
	if ( is_wp_error( $result ) ) {
		// phpcs:ignore WordPress.PHP.DevelopmentFunctions.error_log_error_log
		error_log( sprintf( 'pollchat: invalidate %s: %s', implode( ',', $ids ), $result->get_error_message() ) );
	}
	return $result;
}
add_action( 'shutdown', 'pollchat_send_invalidations', PHP_INT_MAX );
