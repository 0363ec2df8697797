<?php
/**
 * Uninstall (Plugins → Delete): removes, on every site of a network (all of
 * them: get_sites() returns 100 unless told otherwise, so the sites are read
 * page by page), the plugin's option with every secret in it (shared
 * secret, link and notify secrets, API and users-info passwords), the
 * transients of the connection test and the notice route's claims; then the
 * members' notice opt-outs (user meta, which a network's sites share).
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
	// Connection-test results (per user, short-lived) and the notice route's
	// claims (handled notice ids, last mail per member).
	$wpdb->query( $wpdb->prepare( "DELETE FROM {$wpdb->options} WHERE option_name LIKE %s OR option_name LIKE %s OR option_name LIKE %s", $wpdb->esc_like( '_transient_pollchat_' ) . '%', $wpdb->esc_like( '_transient_timeout_pollchat_' ) . '%', $wpdb->esc_like( 'pollchat_claim_' ) . '%' ) ); // phpcs:ignore WordPress.DB.DirectDatabaseQuery
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
delete_metadata( 'user', 0, 'pollchat_notice_optout', '', true );
