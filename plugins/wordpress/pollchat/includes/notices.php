<?php
/**
 * Missed-message notices (docs/protocol.md, "Missed-message notices"):
 * pollchat POSTs a signed notice to /wp-json/pollchat/v1/notice when a
 * member has messages unread while offline; this route checks the
 * signature and mails the member with wp_mail. Members opt out in their
 * profile.
 *
 * @package Pollchat
 */

defined( 'ABSPATH' ) || exit;

/** A signature older or newer than this many seconds is refused. */
const POLLCHAT_NOTICE_SKEW = 300;

/** How long a handled notice id is remembered (pollchat retries with the same id). */
const POLLCHAT_NOTICE_REMEMBER = DAY_IN_SECONDS;

/** Default least time between two notice mails to one member (filter pollchat_notice_interval). */
const POLLCHAT_NOTICE_INTERVAL = 10 * MINUTE_IN_SECONDS;

/** Largest notice body accepted, in bytes. */
const POLLCHAT_NOTICE_MAX_BODY = 65536;

/** User meta: '1' when the member wants no notice mails. */
const POLLCHAT_NOTICE_OPTOUT_META = 'pollchat_notice_optout';

/** Longest sender name in a subject, in characters. */
const POLLCHAT_NOTICE_NAME_MAX = 60;

/** Longest excerpt, in characters (pollchat sends at most 140). */
const POLLCHAT_NOTICE_EXCERPT_MAX = 140;

/**
 * Registers the route.
 */
function pollchat_register_notice_route() {
	register_rest_route(
		'pollchat/v1',
		'/notice',
		array(
			'methods'             => WP_REST_Server::CREATABLE,
			'callback'            => 'pollchat_rest_notice',
			'permission_callback' => 'pollchat_rest_notice_permission',
		)
	);
}
add_action( 'rest_api_init', 'pollchat_register_notice_route' );

/**
 * The route's URL, for the settings page and pollchat's notify.url.
 *
 * @return string
 */
function pollchat_notice_url() {
	return rest_url( 'pollchat/v1/notice' );
}

/**
 * Whether a signature is right: "sha256=" and the lowercase hex
 * HMAC-SHA256 of timestamp + "." + body, keyed by the notify secret,
 * compared in constant time, and the timestamp within POLLCHAT_NOTICE_SKEW
 * seconds of now. An empty secret refuses everything.
 *
 * @param string $secret    The notify secret.
 * @param string $timestamp X-Pollchat-Timestamp.
 * @param string $signature X-Pollchat-Signature.
 * @param string $body      The raw body.
 * @param int    $now       Unix time.
 * @return bool
 */
function pollchat_notice_signature_ok( $secret, $timestamp, $signature, $body, $now ) {
	$secret    = (string) $secret;
	$timestamp = (string) $timestamp;
	if ( '' === $secret || ! preg_match( '/^[0-9]{1,12}$/', $timestamp ) ) {
		return false;
	}
	if ( abs( $now - (int) $timestamp ) > POLLCHAT_NOTICE_SKEW ) {
		return false;
	}
	$want = 'sha256=' . hash_hmac( 'sha256', $timestamp . '.' . (string) $body, $secret );
	return hash_equals( $want, (string) $signature );
}

/**
 * permission_callback: the notice must carry a valid signature made with
 * the notify secret in the last POLLCHAT_NOTICE_SKEW seconds.
 *
 * @param WP_REST_Request $request Request.
 * @return true|WP_Error
 */
function pollchat_rest_notice_permission( WP_REST_Request $request ) {
	$s  = pollchat_get_settings();
	$ok = pollchat_notice_signature_ok(
		$s['notify_secret'],
		(string) $request->get_header( 'X-Pollchat-Timestamp' ),
		(string) $request->get_header( 'X-Pollchat-Signature' ),
		$request->get_body(),
		time()
	);
	if ( $ok ) {
		return true;
	}
	return new WP_Error( 'pollchat_bad_signature', __( 'Wrong, missing or expired notice signature.', 'pollchat' ), array( 'status' => 401 ) );
}

/**
 * Text from pollchat made safe for a plain-text mail and its subject: valid
 * UTF-8, no control, format or line/paragraph separator characters (so no
 * CR/LF reaches a header, and no bidi override turns a name around),
 * whitespace collapsed, at most $max characters.
 *
 * @param mixed $text Input.
 * @param int   $max  Most characters.
 * @return string
 */
function pollchat_notice_plain( $text, $max ) {
	if ( ! is_string( $text ) ) {
		return '';
	}
	$text = wp_check_invalid_utf8( $text, true );
	$text = (string) preg_replace( '/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]+/u', ' ', $text );
	$text = trim( (string) preg_replace( '/\s+/u', ' ', $text ) );
	if ( mb_strlen( $text, 'UTF-8' ) > $max ) {
		$text = rtrim( mb_substr( $text, 0, $max - 1, 'UTF-8' ) ) . "\u{2026}";
	}
	return $text;
}

/**
 * Checks a decoded notice and returns what the mail needs, or a WP_Error
 * (400: pollchat drops the notice and logs it).
 *
 * @param mixed $n Decoded body.
 * @return array|WP_Error {id, user_id, count, senders: string[], excerpt}
 */
function pollchat_parse_notice( $n ) {
	$bad = function ( $what ) {
		/* translators: %s: what is wrong. */
		return new WP_Error( 'pollchat_bad_notice', sprintf( __( 'Malformed notice: %s.', 'pollchat' ), $what ), array( 'status' => 400 ) );
	};
	if ( ! is_array( $n ) ) {
		return $bad( 'not a JSON object' );
	}
	if ( ! isset( $n['id'] ) || ! is_string( $n['id'] ) || ! preg_match( '/^[A-Za-z0-9_-]{1,64}$/', $n['id'] ) ) {
		return $bad( 'id' );
	}
	if ( ! isset( $n['type'] ) || 'unread' !== $n['type'] ) {
		return $bad( 'type' );
	}
	$uid = isset( $n['user_id'] ) ? $n['user_id'] : null;
	if ( ! ( is_string( $uid ) || is_int( $uid ) ) || ! preg_match( '/^[0-9]{1,19}$/', (string) $uid ) ) {
		return $bad( 'user_id' );
	}
	if ( ! isset( $n['count'] ) || ! is_int( $n['count'] ) || $n['count'] < 1 || $n['count'] > 1000000 ) {
		return $bad( 'count' );
	}
	$senders = array();
	if ( isset( $n['senders'] ) ) {
		if ( ! is_array( $n['senders'] ) ) {
			return $bad( 'senders' );
		}
		foreach ( array_slice( $n['senders'], 0, 10 ) as $sender ) {
			$name = is_array( $sender ) && isset( $sender['name'] ) ? pollchat_notice_plain( $sender['name'], POLLCHAT_NOTICE_NAME_MAX ) : '';
			// A system message's sender (user_id null) is the site, not a person.
			if ( '' !== $name && is_array( $sender ) && isset( $sender['user_id'] ) && ! in_array( $name, $senders, true ) ) {
				$senders[] = $name;
			}
		}
	}
	return array(
		'id'      => $n['id'],
		'user_id' => (int) $uid,
		'count'   => $n['count'],
		'senders' => $senders,
		'excerpt' => isset( $n['excerpt'] ) ? pollchat_notice_plain( $n['excerpt'], POLLCHAT_NOTICE_EXCERPT_MAX ) : '',
	);
}

/**
 * Claims a name until $ttl seconds from now, atomically: true for exactly
 * one of any number of concurrent callers (an INSERT IGNORE on the options
 * table's unique option_name, or an UPDATE of an expired claim). Transients
 * read and then write, so two retries of one notice arriving together would
 * both pass them.
 *
 * @param string $name Claim name (a suffix of the option name).
 * @param int    $ttl  Seconds.
 * @return bool
 */
function pollchat_claim( $name, $ttl ) {
	global $wpdb;
	$option = 'pollchat_claim_' . $name;
	$now    = time();
	$until  = (string) ( $now + (int) $ttl );
	// phpcs:disable WordPress.DB.DirectDatabaseQuery -- an atomic claim; no cache can hold it.
	$wpdb->query( $wpdb->prepare( "INSERT IGNORE INTO {$wpdb->options} (option_name, option_value, autoload) VALUES (%s, %s, 'no')", $option, $until ) );
	if ( 1 === (int) $wpdb->rows_affected ) {
		return true;
	}
	$wpdb->query( $wpdb->prepare( "UPDATE {$wpdb->options} SET option_value = %s WHERE option_name = %s AND CAST(option_value AS UNSIGNED) <= %d", $until, $option, $now ) );
	// phpcs:enable
	return 1 === (int) $wpdb->rows_affected;
}

/**
 * Gives a claim back (the mail failed: pollchat's retry must go through).
 *
 * @param string $name Claim name.
 */
function pollchat_release( $name ) {
	global $wpdb;
	$wpdb->delete( $wpdb->options, array( 'option_name' => 'pollchat_claim_' . $name ) ); // phpcs:ignore WordPress.DB.DirectDatabaseQuery
}

/**
 * Removes some expired claims (each handled notice leaves one for a day).
 */
function pollchat_prune_claims() {
	global $wpdb;
	// phpcs:ignore WordPress.DB.DirectDatabaseQuery
	$wpdb->query( $wpdb->prepare( "DELETE FROM {$wpdb->options} WHERE option_name LIKE %s AND CAST(option_value AS UNSIGNED) < %d LIMIT 100", $wpdb->esc_like( 'pollchat_claim_' ) . '%', time() ) );
}

/**
 * Whether a member turned notice mails off.
 *
 * @param int $user_id User.
 * @return bool
 */
function pollchat_notice_opted_out( $user_id ) {
	return '1' === get_user_meta( $user_id, POLLCHAT_NOTICE_OPTOUT_META, true );
}

/**
 * The subject: "3 unread messages from Eve", "… from Eve and Bob",
 * "… from Eve and 2 others", or "3 unread messages" (system messages only).
 *
 * @param int      $count   Unread messages.
 * @param string[] $senders Names, newest first, already plain.
 * @return string
 */
function pollchat_notice_subject( $count, array $senders ) {
	switch ( count( $senders ) ) {
		case 0:
			/* translators: %d: number of unread messages. */
			return sprintf( _n( '%d unread message', '%d unread messages', $count, 'pollchat' ), $count );
		case 1:
			/* translators: 1: number of unread messages, 2: sender's name. */
			return sprintf( _n( '%1$d unread message from %2$s', '%1$d unread messages from %2$s', $count, 'pollchat' ), $count, $senders[0] );
		case 2:
			/* translators: 1: number of unread messages, 2 and 3: senders' names. */
			return sprintf( _n( '%1$d unread message from %2$s and %3$s', '%1$d unread messages from %2$s and %3$s', $count, 'pollchat' ), $count, $senders[0], $senders[1] );
		default:
			$others = count( $senders ) - 1;
			/* translators: 1: number of unread messages, 2: newest sender's name, 3: number of other senders. */
			return sprintf( _n( '%1$d unread messages from %2$s and %3$d other', '%1$d unread messages from %2$s and %3$d others', $others, 'pollchat' ), $count, $senders[0], $others );
	}
}

/**
 * The link back to the chat: the configured chat page, else the home page.
 * Filter: pollchat_notice_link.
 *
 * @param WP_User $user   The member.
 * @param array   $notice The notice.
 * @return string
 */
function pollchat_notice_link( WP_User $user, array $notice ) {
	$s    = pollchat_get_settings();
	$link = '' !== $s['notify_link'] ? $s['notify_link'] : home_url( '/' );
	/**
	 * Filters the link in a notice mail.
	 *
	 * @param string  $link   Chat page from the settings, or the home page.
	 * @param WP_User $user   The member.
	 * @param array   $notice The checked notice (id, user_id, count, senders, excerpt).
	 */
	return (string) apply_filters( 'pollchat_notice_link', $link, $user, $notice );
}

/**
 * The plain-text body.
 *
 * @param WP_User $user    The member.
 * @param array   $notice  The notice.
 * @param string  $subject Its subject.
 * @return string
 */
function pollchat_notice_body( WP_User $user, array $notice, $subject ) {
	$site  = pollchat_notice_plain( wp_specialchars_decode( get_bloginfo( 'name' ), ENT_QUOTES ), 100 );
	$lines = array();
	/* translators: %s: the member's name. */
	$lines[] = sprintf( __( 'Hello %s,', 'pollchat' ), pollchat_notice_plain( pollchat_public_name( $user ), 100 ) );
	$lines[] = '';
	/* translators: 1: e.g. "3 unread messages from Eve", 2: site name. */
	$lines[] = sprintf( __( 'You have %1$s on %2$s.', 'pollchat' ), $subject, $site );
	if ( '' !== $notice['excerpt'] ) {
		$lines[] = '';
		$lines[] = $notice['senders'] ? $notice['senders'][0] . ': ' . $notice['excerpt'] : $notice['excerpt'];
	}
	$lines[] = '';
	/* translators: %s: link to the chat. */
	$lines[] = sprintf( __( 'Read and answer: %s', 'pollchat' ), pollchat_notice_link( $user, $notice ) );
	$lines[] = '';
	$lines[] = '-- ';
	/* translators: %s: link to the member's profile. */
	$lines[] = sprintf( __( 'You get this mail because messages reached you while you were away. To stop these mails, untick "Mail me about unread chat messages" in your profile: %s', 'pollchat' ), admin_url( 'profile.php' ) );
	return implode( "\n", $lines ) . "\n";
}

/**
 * Forces text/plain for the notice mail, whatever another plugin set.
 *
 * @return string
 */
function pollchat_notice_content_type() {
	return 'text/plain';
}

/**
 * The route: dedups the notice id, then mails the member unless unknown,
 * opted out, or mailed in the last interval. Every such case answers the
 * same 200, so the answer tells nothing about who exists.
 *
 * @param WP_REST_Request $request Request.
 * @return WP_REST_Response|WP_Error
 */
function pollchat_rest_notice( WP_REST_Request $request ) {
	$body = $request->get_body();
	if ( strlen( $body ) > POLLCHAT_NOTICE_MAX_BODY ) {
		return new WP_Error( 'pollchat_bad_notice', __( 'Notice too large.', 'pollchat' ), array( 'status' => 413 ) );
	}
	$notice = pollchat_parse_notice( json_decode( $body, true ) );
	if ( is_wp_error( $notice ) ) {
		return $notice;
	}
	$header_id = (string) $request->get_header( 'X-Pollchat-Notice' );
	if ( '' !== $header_id && $header_id !== $notice['id'] ) {
		return new WP_Error( 'pollchat_bad_notice', __( 'X-Pollchat-Notice differs from the body\'s id.', 'pollchat' ), array( 'status' => 400 ) );
	}
	$ok = new WP_REST_Response( array( 'ok' => true ), 200 );
	$ok->header( 'Cache-Control', 'no-store' );

	pollchat_prune_claims();
	$notice_claim = 'n_' . $notice['id'];
	if ( ! pollchat_claim( $notice_claim, POLLCHAT_NOTICE_REMEMBER ) ) {
		return $ok; // Handled before: pollchat retried.
	}
	$user = get_user_by( 'id', $notice['user_id'] );
	if ( ! $user || ! is_email( $user->user_email ) || pollchat_notice_opted_out( $user->ID ) ) {
		return $ok;
	}
	/**
	 * Filters the least time between two notice mails to one member.
	 *
	 * @param int     $seconds Default 600.
	 * @param WP_User $user    The member.
	 */
	$interval   = max( 1, (int) apply_filters( 'pollchat_notice_interval', POLLCHAT_NOTICE_INTERVAL, $user ) );
	$user_claim = 'u_' . $user->ID;
	if ( ! pollchat_claim( $user_claim, $interval ) ) {
		return $ok; // Mailed recently; pollchat should have batched this.
	}

	$switched = switch_to_locale( get_user_locale( $user ) );
	$subject  = pollchat_notice_subject( $notice['count'], $notice['senders'] );
	$text     = pollchat_notice_body( $user, $notice, $subject );
	if ( $switched ) {
		restore_previous_locale();
	}
	add_filter( 'wp_mail_content_type', 'pollchat_notice_content_type', PHP_INT_MAX );
	$sent = wp_mail( $user->user_email, $subject, $text );
	remove_filter( 'wp_mail_content_type', 'pollchat_notice_content_type', PHP_INT_MAX );
	if ( ! $sent ) {
		// Let pollchat's retry try again.
		pollchat_release( $user_claim );
		pollchat_release( $notice_claim );
		return new WP_Error( 'pollchat_mail_failed', __( 'The mail could not be sent; try again later.', 'pollchat' ), array( 'status' => 503 ) );
	}
	return $ok;
}

/**
 * The opt-out box on the profile screen (one's own and, for those who may
 * edit users, others').
 *
 * @param WP_User $user The profile's user.
 */
function pollchat_profile_fields( $user ) {
	echo '<h2>' . esc_html__( 'Chat', 'pollchat' ) . '</h2>';
	echo '<table class="form-table" role="presentation"><tr><th scope="row">' . esc_html__( 'Unread messages', 'pollchat' ) . '</th><td>';
	printf(
		'<input type="hidden" name="pollchat_notice_sent" value="1" /><label for="pollchat_notice_mail"><input type="checkbox" name="pollchat_notice_mail" id="pollchat_notice_mail" value="1" %s /> %s</label>',
		checked( ! pollchat_notice_opted_out( $user->ID ), true, false ),
		esc_html__( 'Mail me about unread chat messages', 'pollchat' )
	);
	echo '<p class="description">' . esc_html__( 'When chat messages reach you while you are away, a short mail says how many and from whom.', 'pollchat' ) . '</p>';
	echo '</td></tr></table>';
}
add_action( 'show_user_profile', 'pollchat_profile_fields' );
add_action( 'edit_user_profile', 'pollchat_profile_fields' );

/**
 * Saves the box. WordPress checked the profile form's nonce before this
 * action; the capability is checked here.
 *
 * @param int $user_id The profile's user.
 */
function pollchat_profile_save( $user_id ) {
	// phpcs:disable WordPress.Security.NonceVerification.Missing -- checked by user-edit.php (update-user_{id}).
	if ( ! current_user_can( 'edit_user', $user_id ) || ! isset( $_POST['pollchat_notice_sent'] ) ) {
		return;
	}
	if ( isset( $_POST['pollchat_notice_mail'] ) ) {
		delete_user_meta( $user_id, POLLCHAT_NOTICE_OPTOUT_META );
	} else {
		update_user_meta( $user_id, POLLCHAT_NOTICE_OPTOUT_META, '1' );
	}
	// phpcs:enable
}
add_action( 'personal_options_update', 'pollchat_profile_save' );
add_action( 'edit_user_profile_update', 'pollchat_profile_save' );
