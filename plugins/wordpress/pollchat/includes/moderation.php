<?php
/**
 * "Chat moderation" in wp-admin, for users who may moderate comments: a
 * page with one button. The button posts (nonce-checked) to admin-post.php;
 * the site asks pollchat for a short-lived moderator session
 * (POST /api/v1/moderator/sessions, with the API credentials, server to
 * server) and sends the browser to the single-use URL pollchat returns,
 * which opens pollchat's moderation console. The API password never
 * reaches the browser.
 *
 * @package Pollchat
 */

defined( 'ABSPATH' ) || exit;

/** Who may open the console. */
const POLLCHAT_MODERATE_CAP = 'moderate_comments';

/** Lifetime asked for a console session, in seconds (pollchat takes 60..3600). */
const POLLCHAT_MODERATOR_TTL = 600;

/**
 * The menu entry.
 */
function pollchat_moderation_menu() {
	add_menu_page(
		__( 'Chat moderation', 'pollchat' ),
		__( 'Chat moderation', 'pollchat' ),
		POLLCHAT_MODERATE_CAP,
		'pollchat-moderation',
		'pollchat_render_moderation_page',
		'dashicons-format-chat',
		26
	);
}
add_action( 'admin_menu', 'pollchat_moderation_menu' );

/**
 * The page: what the console is, the last failure (once), and the button.
 */
function pollchat_render_moderation_page() {
	if ( ! current_user_can( POLLCHAT_MODERATE_CAP ) ) {
		wp_die( esc_html__( 'Sorry, you are not allowed to moderate the chat.', 'pollchat' ), 403 );
	}
	echo '<div class="wrap">';
	echo '<h1>' . esc_html__( 'Chat moderation', 'pollchat' ) . '</h1>';
	$key   = 'pollchat_moderation_error_' . get_current_user_id();
	$error = get_transient( $key );
	if ( is_string( $error ) && '' !== $error ) {
		delete_transient( $key );
		echo '<div class="notice notice-error" id="pollchat_moderation_error"><p>' . esc_html( $error ) . '</p></div>';
	}
	echo '<p>' . esc_html__( 'pollchat\'s moderation console shows who is online, the rooms and their messages live, the reports queue and the audit log; there you can delete messages, ban, mute and kick users and clear rooms. It opens on the chat server, signed in as you for a few minutes.', 'pollchat' ) . '</p>';
	echo '<form action="' . esc_url( admin_url( 'admin-post.php' ) ) . '" method="post">';
	echo '<input type="hidden" name="action" value="pollchat_moderation" />';
	wp_nonce_field( 'pollchat_moderation' );
	echo '<button type="submit" class="button button-primary" id="pollchat_open_console">' . esc_html__( 'Open the moderation console', 'pollchat' ) . '</button>';
	echo '</form></div>';
}

/**
 * The console address pollchat returned, made absolute on the server URL.
 * An absolute address must be on the server URL's origin (scheme, host,
 * port); anything else is refused ('').
 *
 * @param string $server The server URL (no trailing slash).
 * @param mixed  $url    pollchat's url field.
 * @return string
 */
function pollchat_console_url( $server, $url ) {
	if ( ! is_string( $url ) || '' === $url || preg_match( '/[\x00-\x20\x7f\\\\]/', $url ) ) {
		return '';
	}
	$base = wp_parse_url( $server );
	if ( empty( $base['scheme'] ) || empty( $base['host'] ) ) {
		return '';
	}
	$origin = strtolower( $base['scheme'] . '://' . $base['host'] ) . ( isset( $base['port'] ) ? ':' . $base['port'] : '' );
	if ( preg_match( '#^[A-Za-z][A-Za-z0-9+.-]*:#', $url ) || 0 === strpos( $url, '//' ) ) {
		$p = wp_parse_url( $url );
		if ( ! is_array( $p ) || empty( $p['scheme'] ) || empty( $p['host'] ) || ! in_array( strtolower( $p['scheme'] ), array( 'http', 'https' ), true ) || isset( $p['user'] ) || isset( $p['pass'] ) ) {
			return '';
		}
		$got = strtolower( $p['scheme'] . '://' . $p['host'] ) . ( isset( $p['port'] ) ? ':' . $p['port'] : '' );
		return $got === $origin ? $url : '';
	}
	// Relative to the server URL (which may have a path, e.g. /chat).
	return untrailingslashit( $server ) . '/' . ltrim( $url, '/' );
}

/**
 * admin-post.php?action=pollchat_moderation (POST, nonce): asks pollchat for
 * a moderator session for the current user and redirects there; on failure
 * back to the page with a notice.
 */
function pollchat_handle_moderation() {
	if ( ! current_user_can( POLLCHAT_MODERATE_CAP ) ) {
		wp_die( esc_html__( 'Sorry, you are not allowed to moderate the chat.', 'pollchat' ), 403 );
	}
	if ( ! isset( $_SERVER['REQUEST_METHOD'] ) || 'POST' !== $_SERVER['REQUEST_METHOD'] ) {
		wp_die( esc_html__( 'The moderation console opens from its button only.', 'pollchat' ), 405 );
	}
	check_admin_referer( 'pollchat_moderation' );
	$user = wp_get_current_user();
	$r    = pollchat_api_call(
		'POST',
		'/api/v1/moderator/sessions',
		array(
			'user_id' => (string) $user->ID,
			'name'    => pollchat_public_name( $user ),
			'ttl'     => POLLCHAT_MODERATOR_TTL,
		)
	);
	$back = admin_url( 'admin.php?page=pollchat-moderation' );
	if ( 'ok' !== $r['status'] ) {
		set_transient( 'pollchat_moderation_error_' . $user->ID, pollchat_api_problem( $r ), 5 * MINUTE_IN_SECONDS );
		wp_safe_redirect( $back );
		exit;
	}
	$url = pollchat_console_url( pollchat_get_settings()['server_url'], isset( $r['body']['url'] ) ? $r['body']['url'] : '' );
	if ( '' === $url ) {
		set_transient( 'pollchat_moderation_error_' . $user->ID, __( 'pollchat answered without a console address on its own server URL.', 'pollchat' ), 5 * MINUTE_IN_SECONDS );
		wp_safe_redirect( $back );
		exit;
	}
	// The URL holds a single-use token: not cached, not sent on as a referrer.
	header( 'Referrer-Policy: no-referrer' );
	// phpcs:ignore WordPress.Security.SafeRedirect.wp_redirect_wp_redirect -- pollchat's own server, checked above.
	wp_redirect( $url, 303 );
	exit;
}
add_action( 'admin_post_pollchat_moderation', 'pollchat_handle_moderation' );
