<?php
/**
 * Puts the widget on the page for logged-in users: widget.js enqueued with
 * jquery, the init call added inline with the identity signed here.
 *
 * @package Pollchat
 */

defined( 'ABSPATH' ) || exit;

/**
 * Whether a user gets the chat: logged in, and one of the chosen roles (no
 * roles chosen: everyone). Filter: pollchat_user_can_chat.
 *
 * @param WP_User|null $user Null means the current user.
 * @return bool
 */
function pollchat_user_can_chat( $user = null ) {
	$user = null === $user ? wp_get_current_user() : $user;
	if ( ! $user instanceof WP_User || ! $user->exists() ) {
		return false;
	}
	$roles   = pollchat_get_settings()['roles'];
	$allowed = empty( $roles ) || array_intersect( (array) $user->roles, $roles );
	/**
	 * Filters whether a user gets the chat widget and chat links.
	 *
	 * @param bool    $allowed From the roles setting.
	 * @param WP_User $user    The user.
	 */
	return (bool) apply_filters( 'pollchat_user_can_chat', (bool) $allowed, $user );
}

/**
 * The signed identity for a user, as Pollchat.init takes it. The secret is
 * used here and never returned.
 *
 * @param WP_User $user The user.
 * @param array   $s    Settings.
 * @return array
 */
function pollchat_identity( WP_User $user, array $s ) {
	$signer = new Pollchat_Signer( $s['secret'] );
	if ( 'jwt' === $s['scheme'] ) {
		/**
		 * Filters the lifetime of the token handed to the widget, in seconds.
		 *
		 * @param int $ttl Default 12 hours.
		 */
		$ttl = (int) apply_filters( 'pollchat_token_ttl', 12 * HOUR_IN_SECONDS );
		return array(
			'token' => $signer->token(
				$user->ID,
				$ttl,
				array(
					'name'       => pollchat_public_name( $user ),
					'avatar_url' => (string) get_avatar_url( $user->ID ),
				)
			),
		);
	}
	return $signer->legacy( $user->ID );
}

/**
 * The object passed to Pollchat.init for a user.
 *
 * @param WP_User $user The user.
 * @return array
 */
function pollchat_init_config( WP_User $user ) {
	$s      = pollchat_get_settings();
	$config = array_merge( array( 'server' => $s['server_url'] ), pollchat_identity( $user, $s ) );

	$config['position'] = $s['position'];
	// The widget's names: layout (colours and font), lang.
	$layout = array_filter( $s['colours'], 'strlen' );
	if ( '' !== $s['font_family'] ) {
		$layout['fontFamily'] = $s['font_family'];
	}
	if ( $layout ) {
		$config['layout'] = $layout;
	}
	// No language set: the widget follows the page's <html lang>, which
	// WordPress writes from the site's locale.
	if ( '' !== $s['language'] ) {
		$config['lang'] = $s['language'];
	}
	/**
	 * Filters the Pollchat.init options (add event handlers' names, change
	 * the position per page...). The identity must stay as signed.
	 *
	 * @param array   $config Options.
	 * @param WP_User $user   The user.
	 */
	return apply_filters( 'pollchat_init_config', $config, $user );
}

/**
 * Whether the current request gets the widget.
 *
 * @return bool
 */
function pollchat_embeds_widget() {
	return is_user_logged_in() && pollchat_is_configured() && pollchat_user_can_chat();
}

/**
 * A page with the widget carries the visitor's signed identity, a bearer
 * credential: keep it out of shared caches (proxies, CDNs, page caches
 * that honour Cache-Control).
 */
function pollchat_private_page() {
	if ( ! headers_sent() && pollchat_embeds_widget() ) {
		nocache_headers();
		header( 'Cache-Control: private, no-store, no-cache, must-revalidate, max-age=0' );
	}
}
add_action( 'template_redirect', 'pollchat_private_page' );

/**
 * Enqueues widget.js (after jquery) and the init call for the current user.
 */
function pollchat_enqueue_widget() {
	if ( ! pollchat_embeds_widget() ) {
		return;
	}
	$s      = pollchat_get_settings();
	$server = $s['server_url'];
	// null version: no ?ver= query, the server's own caching headers apply.
	wp_enqueue_style( 'pollchat-widget', $server . '/widget.css', array(), null );
	wp_enqueue_script( 'pollchat-widget', $server . '/widget.js', array( 'jquery' ), null, true );

	$json = wp_json_encode( pollchat_init_config( wp_get_current_user() ), JSON_HEX_TAG | JSON_HEX_AMP | JSON_UNESCAPED_SLASHES );
	wp_add_inline_script( 'pollchat-widget', 'Pollchat.init(' . $json . ');' );
	// "Chat with" links made by the shortcode or pollchat_chat_link().
	wp_add_inline_script(
		'pollchat-widget',
		'jQuery(function ($) { $(document).on("click", "a.pollchat-link[data-pollchat-user]", function (e) { e.preventDefault(); Pollchat.openDialog(String($(this).attr("data-pollchat-user"))); }); });'
	);
}
add_action( 'wp_enqueue_scripts', 'pollchat_enqueue_widget' );
