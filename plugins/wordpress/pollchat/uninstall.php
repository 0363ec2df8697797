<?php
/**
 * Uninstall (Plugins → Delete): removes the plugin's option, with every
 * secret in it (shared secret, link secret, API and users-info passwords),
 * on every site of a network (all of them: get_sites() returns 100 unless
 * told otherwise, so the sites are read page by page), and the transients
 * of the connection test.
 *
 * @package Pollchat
 */

defined( 'WP_UNINSTALL_PLUGIN' ) || exit;

/**
 * Removes what the plugin stored on the current site.
 */
function pollchat_uninstall_site() {
	global $wpdb;
	delete_option( 'pollchat_settings' );
	// Connection-test results (per user, short-lived).
	$wpdb->query( $wpdb->prepare( "DELETE FROM {$wpdb->options} WHERE option_name LIKE %s OR option_name LIKE %s", $wpdb->esc_like( '_transient_pollchat_' ) . '%', $wpdb->esc_like( '_transient_timeout_pollchat_' ) . '%' ) ); // phpcs:ignore WordPress.DB.DirectDatabaseQuery
}

if ( is_multisite() ) {
	$pollchat_page = 200;
	for ( $pollchat_offset = 0; ; $pollchat_offset += $pollchat_page ) {
		$pollchat_sites = get_sites(
			array(
				'fields'                 => 'ids',
				'number'                 => $pollchat_page,
				'offset'                 => $pollchat_offset,
				'orderby'                => 'id',
				'update_site_meta_cache' => false,
			)
		);
		foreach ( $pollchat_sites as $pollchat_site_id ) {
			switch_to_blog( $pollchat_site_id );
			pollchat_uninstall_site();
			restore_current_blog();
		}
		if ( count( $pollchat_sites ) < $pollchat_page ) {
			break;
		}
	}
} else {
	pollchat_uninstall_site();
}
