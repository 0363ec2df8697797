<?php
/**
 * Plugin Name:       pollchat
 * Plugin URI:        https://github.com/pollchat/pollchat
 * Description:       Chat and messenger for logged-in users, served by a pollchat server (JSONP long-polling, works behind any proxy). Signs each visitor's identity here; the secret stays on this site.
 * Version:           1.0.0
 * Requires at least: 5.6
 * Requires PHP:      7.0
 * Author:            pollchat
 * License:           MIT
 * Text Domain:       pollchat
 *
 * @package Pollchat
 */

defined( 'ABSPATH' ) || exit;

define( 'POLLCHAT_VERSION', '1.0.0' );
define( 'POLLCHAT_PLUGIN_FILE', __FILE__ );

require_once __DIR__ . '/includes/class-pollchat-signer.php';
require_once __DIR__ . '/includes/class-pollchat-basic-auth.php';
require_once __DIR__ . '/includes/options.php';
require_once __DIR__ . '/includes/embed.php';
require_once __DIR__ . '/includes/links.php';
require_once __DIR__ . '/includes/rest.php';
require_once __DIR__ . '/includes/notices.php';
require_once __DIR__ . '/includes/invalidate.php';
require_once __DIR__ . '/includes/api.php';
require_once __DIR__ . '/includes/privacy.php';
require_once __DIR__ . '/includes/moderation.php';
if ( is_admin() ) {
	require_once __DIR__ . '/includes/admin.php';
}

/**
 * Activation: store the defaults once, with a generated link secret, notify
 * secret and users-info password (an existing option is kept, so deactivating and
 * activating again keeps the settings; only missing generated values are
 * filled in).
 */
function pollchat_activate() {
	$stored = get_option( POLLCHAT_OPTION );
	if ( ! is_array( $stored ) ) {
		add_option( POLLCHAT_OPTION, pollchat_fill_generated( pollchat_default_settings() ) );
		return;
	}
	$filled = pollchat_fill_generated( array_merge( pollchat_default_settings(), $stored ) );
	if ( $filled !== $stored ) {
		update_option( POLLCHAT_OPTION, $filled );
	}
}
register_activation_hook( __FILE__, 'pollchat_activate' );

/**
 * Translations.
 */
function pollchat_load_textdomain() {
	load_plugin_textdomain( 'pollchat', false, dirname( plugin_basename( __FILE__ ) ) . '/languages' );
}
add_action( 'init', 'pollchat_load_textdomain' );
