<?php
/**
 * WordPress's personal-data tools (Tools → Export / Erase Personal Data)
 * for what pollchat stores about a member: the exporter reads
 * GET /api/v1/users/{id}/export, the eraser calls DELETE /api/v1/users/{id}
 * (pollchat erases under its privacy.erase policy). The member is the
 * WordPress user with the request's email address.
 *
 * @package Pollchat
 */

defined( 'ABSPATH' ) || exit;

/** Export items per exporter page. */
const POLLCHAT_EXPORT_PAGE = 100;

/** Erase attempts (eraser pages) before the eraser gives up with an error. */
const POLLCHAT_ERASE_TRIES = 3;

/**
 * Registers the exporter.
 *
 * @param array $exporters Exporters.
 * @return array
 */
function pollchat_register_exporter( $exporters ) {
	$exporters['pollchat'] = array(
		'exporter_friendly_name' => __( 'Chat (pollchat)', 'pollchat' ),
		'callback'               => 'pollchat_privacy_export',
	);
	return $exporters;
}
add_filter( 'wp_privacy_personal_data_exporters', 'pollchat_register_exporter' );

/**
 * Registers the eraser.
 *
 * @param array $erasers Erasers.
 * @return array
 */
function pollchat_register_eraser( $erasers ) {
	$erasers['pollchat'] = array(
		'eraser_friendly_name' => __( 'Chat (pollchat)', 'pollchat' ),
		'callback'             => 'pollchat_privacy_erase',
	);
	return $erasers;
}
add_filter( 'wp_privacy_personal_data_erasers', 'pollchat_register_eraser' );

/**
 * Groups of the export other than messages: pollchat's key => label.
 *
 * @return array
 */
function pollchat_export_groups() {
	return array(
		'read_marks'           => __( 'Chat read marks', 'pollchat' ),
		'blocks'               => __( 'Chat: users you blocked', 'pollchat' ),
		'blocked_by'           => __( 'Chat: users who blocked you', 'pollchat' ),
		'requests_received'    => __( 'Chat requests received', 'pollchat' ),
		'requests_sent'        => __( 'Chat requests sent', 'pollchat' ),
		'mutes'                => __( 'Chat mutes', 'pollchat' ),
		'reports_filed'        => __( 'Chat reports you filed', 'pollchat' ),
		'reports_about'        => __( 'Chat reports about your messages', 'pollchat' ),
		'bans'                 => __( 'Chat bans', 'pollchat' ),
		'hidden_conversations' => __( 'Hidden chat conversations', 'pollchat' ),
		'attachments'          => __( 'Chat attachments', 'pollchat' ),
		'pending_notices'      => __( 'Pending chat notices', 'pollchat' ),
		'rooms'                => __( 'Chat rooms', 'pollchat' ),
	);
}

/**
 * A value for the export's table: scalars as text, the rest as JSON.
 *
 * @param mixed $v Value.
 * @return string
 */
function pollchat_export_value( $v ) {
	if ( is_bool( $v ) ) {
		return $v ? __( 'yes', 'pollchat' ) : __( 'no', 'pollchat' );
	}
	if ( is_scalar( $v ) || null === $v ) {
		return (string) $v;
	}
	return (string) wp_json_encode( $v );
}

/**
 * Everything pollchat exported, as WordPress export items: messages first
 * (group "Chat messages", oldest first), then one item per entry of the
 * other groups.
 *
 * @param array   $export pollchat's export JSON.
 * @param WP_User $user   The member.
 * @return array
 */
function pollchat_export_items( array $export, WP_User $user ) {
	$items = array();
	$me    = (string) $user->ID;
	$msgs  = isset( $export['messages'] ) && is_array( $export['messages'] ) ? $export['messages'] : array();
	foreach ( array_values( $msgs ) as $i => $m ) {
		if ( ! is_array( $m ) ) {
			continue;
		}
		$from = isset( $m['from'] ) ? (string) $m['from'] : '';
		$data = array(
			array(
				'name'  => __( 'Sent', 'pollchat' ),
				'value' => isset( $m['ts'] ) ? pollchat_export_value( $m['ts'] ) : '',
			),
			array(
				'name'  => __( 'From', 'pollchat' ),
				'value' => $from === $me ? __( 'you', 'pollchat' ) : ( '' === $from ? __( 'the site (system message)', 'pollchat' ) : $from ),
			),
		);
		if ( isset( $m['room'] ) && '' !== (string) $m['room'] ) {
			$data[] = array(
				'name'  => __( 'Room', 'pollchat' ),
				'value' => (string) $m['room'],
			);
		} elseif ( isset( $m['to'] ) ) {
			$data[] = array(
				'name'  => __( 'To', 'pollchat' ),
				'value' => (string) $m['to'] === $me ? __( 'you', 'pollchat' ) : (string) $m['to'],
			);
		}
		$data[] = array(
			'name'  => __( 'Text', 'pollchat' ),
			'value' => ! empty( $m['deleted'] ) ? __( '(deleted)', 'pollchat' ) : ( isset( $m['text'] ) ? (string) $m['text'] : '' ),
		);
		$items[] = array(
			'group_id'          => 'pollchat-messages',
			'group_label'       => __( 'Chat messages', 'pollchat' ),
			'group_description' => __( 'Chat messages you sent and direct messages you received, as the chat server stores them.', 'pollchat' ),
			'item_id'           => 'pollchat-message-' . ( isset( $m['id'] ) ? pollchat_export_value( $m['id'] ) : $i ),
			'data'              => $data,
		);
	}
	foreach ( pollchat_export_groups() as $key => $label ) {
		if ( empty( $export[ $key ] ) || ! is_array( $export[ $key ] ) ) {
			continue;
		}
		foreach ( array_values( $export[ $key ] ) as $i => $entry ) {
			$data = array();
			if ( is_array( $entry ) ) {
				foreach ( $entry as $name => $value ) {
					$data[] = array(
						'name'  => (string) $name,
						'value' => pollchat_export_value( $value ),
					);
				}
			} else {
				$data[] = array(
					'name'  => __( 'Value', 'pollchat' ),
					'value' => pollchat_export_value( $entry ),
				);
			}
			$items[] = array(
				'group_id'    => 'pollchat-' . str_replace( '_', '-', $key ),
				'group_label' => $label,
				'item_id'     => 'pollchat-' . str_replace( '_', '-', $key ) . '-' . $i,
				'data'        => $data,
			);
		}
	}
	return $items;
}

/**
 * pollchat's export of a member. Page 1 asks pollchat; the following pages
 * of the same export read a copy kept for 15 minutes (deleted after the
 * last page), so that a long export is fetched once and pages do not shift.
 *
 * @param WP_User $user The member.
 * @param int     $page Exporter page.
 * @return array|WP_Error
 */
function pollchat_fetch_export( WP_User $user, $page ) {
	$key = 'pollchat_export_' . $user->ID;
	if ( $page > 1 ) {
		$kept = get_transient( $key );
		if ( is_array( $kept ) ) {
			return $kept;
		}
	}
	$r = pollchat_api_call( 'GET', '/api/v1/users/' . rawurlencode( (string) $user->ID ) . '/export', null, 30 );
	if ( 'ok' !== $r['status'] ) {
		/* translators: %s: what went wrong. */
		return new WP_Error( 'pollchat_export', sprintf( __( 'The chat data could not be exported: %s', 'pollchat' ), pollchat_api_problem( $r ) ) );
	}
	set_transient( $key, $r['body'], 15 * MINUTE_IN_SECONDS );
	return $r['body'];
}

/**
 * The exporter: POLLCHAT_EXPORT_PAGE items per page. A pollchat that cannot
 * be asked is an error (the export stops with its message rather than being
 * sent without the chat data).
 *
 * @param string $email The request's address.
 * @param int    $page  Page, from 1.
 * @return array|WP_Error
 */
function pollchat_privacy_export( $email, $page = 1 ) {
	$page = max( 1, (int) $page );
	$user = get_user_by( 'email', $email );
	$s    = pollchat_get_settings();
	if ( ! $user || '' === $s['server_url'] ) {
		return array(
			'data' => array(),
			'done' => true,
		);
	}
	$export = pollchat_fetch_export( $user, $page );
	if ( is_wp_error( $export ) ) {
		return $export;
	}
	$items = pollchat_export_items( $export, $user );
	$done  = $page * POLLCHAT_EXPORT_PAGE >= count( $items );
	if ( $done ) {
		delete_transient( 'pollchat_export_' . $user->ID );
	}
	return array(
		'data' => array_slice( $items, ( $page - 1 ) * POLLCHAT_EXPORT_PAGE, POLLCHAT_EXPORT_PAGE ),
		'done' => $done,
	);
}

/**
 * The eraser: one DELETE erases everything in pollchat. Under
 * privacy.erase = "anonymize" the texts stay under a pseudonym: those
 * messages are reported as retained. pollchat unreachable: done is false so
 * that WordPress asks again, POLLCHAT_ERASE_TRIES times, then an error.
 *
 * @param string $email The request's address.
 * @param int    $page  Page, from 1 (each page is one more attempt).
 * @return array|WP_Error
 */
function pollchat_privacy_erase( $email, $page = 1 ) {
	$page = max( 1, (int) $page );
	$user = get_user_by( 'email', $email );
	$s    = pollchat_get_settings();
	$out  = array(
		'items_removed'  => false,
		'items_retained' => false,
		'messages'       => array(),
		'done'           => true,
	);
	if ( ! $user || '' === $s['server_url'] ) {
		return $out;
	}
	delete_transient( 'pollchat_export_' . $user->ID );
	$r = pollchat_api_call( 'DELETE', '/api/v1/users/' . rawurlencode( (string) $user->ID ), null, 30 );
	if ( 'ok' !== $r['status'] ) {
		/* translators: %s: what went wrong. */
		$message = sprintf( __( 'The chat data was not erased: %s', 'pollchat' ), pollchat_api_problem( $r ) );
		if ( $page >= POLLCHAT_ERASE_TRIES || in_array( $r['status'], array( 'not_configured', 'credentials', 'not_found' ), true ) ) {
			return new WP_Error( 'pollchat_erase', $message );
		}
		$out['messages'][] = $message;
		$out['done']       = false;
		return $out;
	}
	// pollchat answers {ok, user_id, policy, erased: {messages, read_marks, …}};
	// counts at the top level are read too.
	$policy = isset( $r['body']['policy'] ) && is_string( $r['body']['policy'] ) ? $r['body']['policy'] : '';
	$all    = $r['body'];
	if ( isset( $all['erased'] ) && is_array( $all['erased'] ) ) {
		$all = array_merge( $all, $all['erased'] );
	}
	$removed  = 0;
	$retained = 0;
	$counts   = array();
	foreach ( $all as $name => $n ) {
		if ( ! is_int( $n ) && ! ( is_float( $n ) && floor( $n ) === $n ) ) {
			continue;
		}
		$n = (int) $n;
		// Anonymised messages keep their text under a pseudonym: retained.
		if ( preg_match( '/anonymi[sz]ed|retained|kept/', (string) $name ) || ( 'anonymize' === $policy && 'messages' === $name ) ) {
			$retained += $n;
		} else {
			$removed += $n;
		}
		if ( $n > 0 ) {
			$counts[] = str_replace( '_', ' ', (string) $name ) . ': ' . $n;
		}
	}
	$out['items_removed']  = $removed > 0;
	$out['items_retained'] = $retained > 0;
	if ( $counts ) {
		$out['messages'][] = '' !== $policy
			/* translators: 1: pollchat's privacy.erase policy, 2: counts, e.g. "messages: 3". */
			? sprintf( __( 'Chat (privacy.erase = %1$s): %2$s.', 'pollchat' ), $policy, implode( ', ', $counts ) )
			/* translators: %s: counts, e.g. "messages: 3". */
			: sprintf( __( 'Chat: %s.', 'pollchat' ), implode( ', ', $counts ) );
	}
	if ( $retained > 0 ) {
		$out['messages'][] = __( 'The chat server keeps the texts of anonymised messages under a pseudonym (its privacy.erase policy is "anonymize"), and reports about the member\'s messages and its audit log of moderator actions.', 'pollchat' );
	}
	return $out;
}
