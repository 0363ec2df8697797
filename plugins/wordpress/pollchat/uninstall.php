<?php
/**
 * Uninstall (Plugins → Delete): removes the plugin's option, on every site
 * of a network.
 *
 * @package Pollchat
 */

defined( 'WP_UNINSTALL_PLUGIN' ) || exit;

if ( is_multisite() ) {
	foreach ( get_sites( array( 'fields' => 'ids' ) ) as $pollchat_site_id ) {
		switch_to_blog( $pollchat_site_id );
		delete_option( 'pollchat_settings' );
		restore_current_blog();
	}
} else {
	delete_option( 'pollchat_settings' );
}
