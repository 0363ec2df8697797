<?php
/**
 * The plugin's one option (pollchat_settings): defaults, reading, sanitising.
 *
 * @package Pollchat
 */

defined( 'ABSPATH' ) || exit;

/** Option name. */
const POLLCHAT_OPTION = 'pollchat_settings';

/**
 * Keys of settings that are secrets: stored, never printed back. The link
 * secret is a secret too (uninstall removes it with the option) but is shown
 * to the admin, who copies it into pollchat's auth.link_secret.
 */
const POLLCHAT_SECRET_KEYS = array( 'secret', 'api_password', 'users_password' );

/** Shortest users-info password accepted; generated ones have 32 characters. */
const POLLCHAT_MIN_PASSWORD = 16;

/** Length of a generated link secret or users-info password. */
const POLLCHAT_GENERATED_LENGTH = 32;

/** Colour keys, as Pollchat.init's layout option names them. */
const POLLCHAT_COLOUR_KEYS = array( 'header', 'headerButton', 'body', 'launcher', 'messageSent', 'messageReceived' );

/**
 * Default settings.
 *
 * @return array
 */
function pollchat_default_settings() {
	return array(
		'server_url'     => '',
		'secret'         => '',
		'link_secret'    => '',
		'notify_secret'  => '',
		'notify_link'    => '',
		'scheme'         => 'hash',
		'api_login'      => '',
		'api_password'   => '',
		'users_login'    => 'pollchat',
		'users_password' => '',
		'position'       => 'bottom-right',
		'colours'        => array_fill_keys( POLLCHAT_COLOUR_KEYS, '' ),
		'font_family'    => '',
		'language'       => '',
		'roles'          => array(),
	);
}

/**
 * A random secret of letters and digits (wp_generate_password draws from
 * random_int, a CSPRNG).
 *
 * @param int $length Characters.
 * @return string
 */
function pollchat_generate_secret( $length = POLLCHAT_GENERATED_LENGTH ) {
	return wp_generate_password( max( POLLCHAT_GENERATED_LENGTH, (int) $length ), false, false );
}

/**
 * Fills in what is generated rather than typed: the link secret (pollchat's
 * auth.link_secret), the notify secret (pollchat's notify.secret) and the
 * users-info password. Run on activation and on every save, so a site
 * always has all three.
 *
 * @param array $s Settings.
 * @return array
 */
function pollchat_fill_generated( array $s ) {
	foreach ( array( 'link_secret', 'notify_secret', 'users_password' ) as $key ) {
		if ( ! isset( $s[ $key ] ) || '' === $s[ $key ] ) {
			$s[ $key ] = pollchat_generate_secret();
		}
	}
	return $s;
}

/**
 * The stored settings over the defaults.
 *
 * @return array
 */
function pollchat_get_settings() {
	$stored   = get_option( POLLCHAT_OPTION, array() );
	$defaults = pollchat_default_settings();
	if ( ! is_array( $stored ) ) {
		return $defaults;
	}
	$s            = array_merge( $defaults, array_intersect_key( $stored, $defaults ) );
	$s['colours'] = array_merge( $defaults['colours'], is_array( $s['colours'] ) ? array_intersect_key( $s['colours'], $defaults['colours'] ) : array() );
	$s['roles']   = is_array( $s['roles'] ) ? array_values( $s['roles'] ) : array();
	return $s;
}

/**
 * Registers the option with its sanitize_callback. Hooked on init (not only
 * admin_init) so that update_option() from WP-CLI, other plugins or tests
 * goes through the same sanitising as the settings form.
 */
function pollchat_register_setting() {
	register_setting(
		'pollchat',
		POLLCHAT_OPTION,
		array(
			'type'              => 'object',
			'sanitize_callback' => 'pollchat_sanitize_settings',
			'default'           => pollchat_default_settings(),
			'show_in_rest'      => false,
		)
	);
}
add_action( 'init', 'pollchat_register_setting' );

/**
 * A server URL: http(s), no query, no trailing slash; '' when invalid.
 *
 * @param string $url Input.
 * @return string
 */
function pollchat_clean_server_url( $url ) {
	$url = esc_url_raw( trim( (string) $url ), array( 'http', 'https' ) );
	if ( '' === $url ) {
		return '';
	}
	$parts = wp_parse_url( $url );
	if ( empty( $parts['host'] ) || isset( $parts['query'] ) || isset( $parts['fragment'] ) ) {
		return '';
	}
	return untrailingslashit( $url );
}

/**
 * Sanitises the settings form (and any update_option call). Secrets left
 * empty keep their stored value; the "clear" boxes remove them. The result
 * of sanitising is a fixed point, since WordPress may run this twice on the
 * first save.
 *
 * @param mixed $input Submitted value.
 * @return array
 */
function pollchat_sanitize_settings( $input ) {
	$old = pollchat_get_settings();
	if ( ! is_array( $input ) ) {
		return $old;
	}
	$out = $old;

	if ( array_key_exists( 'server_url', $input ) ) {
		$raw = trim( (string) $input['server_url'] );
		$url = pollchat_clean_server_url( $raw );
		if ( $url !== $old['server_url'] && ! pollchat_can_set_server_url() ) {
			pollchat_settings_error( 'server_url', __( 'Only a user who may publish unfiltered HTML (or a network administrator) can change the pollchat server URL: it decides which script every visitor runs. The stored URL is kept.', 'pollchat' ) );
		} elseif ( '' !== $raw && '' === $url ) {
			pollchat_settings_error( 'server_url', __( 'The pollchat server URL must be an http:// or https:// address without a query.', 'pollchat' ) );
		} else {
			$out['server_url'] = $url;
		}
	}

	$clear = isset( $input['clear'] ) && is_array( $input['clear'] ) ? array_map( 'strval', $input['clear'] ) : array();
	foreach ( POLLCHAT_SECRET_KEYS as $key ) {
		if ( in_array( $key, $clear, true ) ) {
			$out[ $key ] = '';
		} elseif ( isset( $input[ $key ] ) && is_string( $input[ $key ] ) && '' !== trim( $input[ $key ] ) ) {
			// Secrets are kept byte for byte (no sanitize_text_field: it would
			// change characters a password may contain), only trimmed.
			$value = trim( $input[ $key ] );
			if ( 'users_password' === $key && strlen( $value ) < POLLCHAT_MIN_PASSWORD ) {
				/* translators: %d: shortest length. */
				pollchat_settings_error( $key, sprintf( __( 'The users-info password must have at least %d characters; the stored one is kept.', 'pollchat' ), POLLCHAT_MIN_PASSWORD ) );
				continue;
			}
			$out[ $key ] = $value;
		}
	}
	// The link secret: regenerated on request, or replaced by a long enough
	// one (to match a pollchat already configured), never emptied.
	if ( in_array( 'link_secret', $clear, true ) ) {
		$out['link_secret'] = '';
	} elseif ( isset( $input['link_secret'] ) && is_string( $input['link_secret'] ) && '' !== trim( $input['link_secret'] ) && trim( $input['link_secret'] ) !== $old['link_secret'] ) {
		$link = trim( $input['link_secret'] );
		if ( strlen( $link ) < POLLCHAT_GENERATED_LENGTH ) {
			/* translators: %d: shortest length. */
			pollchat_settings_error( 'link_secret', sprintf( __( 'The link secret must have at least %d characters; the stored one is kept.', 'pollchat' ), POLLCHAT_GENERATED_LENGTH ) );
		} else {
			$out['link_secret'] = $link;
		}
	}
	// The notify secret: the same rules (pollchat's notify.secret).
	if ( in_array( 'notify_secret', $clear, true ) ) {
		$out['notify_secret'] = '';
	} elseif ( isset( $input['notify_secret'] ) && is_string( $input['notify_secret'] ) && '' !== trim( $input['notify_secret'] ) && trim( $input['notify_secret'] ) !== $old['notify_secret'] ) {
		$notify = trim( $input['notify_secret'] );
		if ( strlen( $notify ) < POLLCHAT_GENERATED_LENGTH ) {
			/* translators: %d: shortest length. */
			pollchat_settings_error( 'notify_secret', sprintf( __( 'The notify secret must have at least %d characters; the stored one is kept.', 'pollchat' ), POLLCHAT_GENERATED_LENGTH ) );
		} else {
			$out['notify_secret'] = $notify;
		}
	}
	if ( array_key_exists( 'notify_link', $input ) ) {
		$raw  = trim( (string) $input['notify_link'] );
		$link = '' === $raw ? '' : esc_url_raw( $raw, array( 'http', 'https' ) );
		if ( '' !== $raw && '' === $link ) {
			pollchat_settings_error( 'notify_link', __( 'The chat page in notice mails must be an http:// or https:// address.', 'pollchat' ) );
		} else {
			$out['notify_link'] = $link;
		}
	}
	// pollchat refuses to start when both keys are equal: a link would be a login.
	if ( '' !== $out['secret'] && $out['secret'] === $out['link_secret'] ) {
		pollchat_settings_error( 'link_secret', __( 'The link secret must differ from the shared secret; a new one was generated.', 'pollchat' ) );
		$out['link_secret'] = '';
	}
	$out = pollchat_fill_generated( $out );

	if ( isset( $input['scheme'] ) ) {
		$out['scheme'] = in_array( $input['scheme'], array( 'hash', 'jwt' ), true ) ? $input['scheme'] : 'hash';
	}
	foreach ( array( 'api_login', 'users_login' ) as $key ) {
		if ( isset( $input[ $key ] ) ) {
			$login = sanitize_text_field( (string) $input[ $key ] );
			if ( false !== strpos( $login, ':' ) ) {
				pollchat_settings_error( $key, __( 'A login cannot contain a colon.', 'pollchat' ) );
			} else {
				$out[ $key ] = $login;
			}
		}
	}
	if ( isset( $input['position'] ) ) {
		$out['position'] = in_array( $input['position'], array( 'bottom-right', 'bottom-left' ), true ) ? $input['position'] : 'bottom-right';
	}
	if ( isset( $input['colours'] ) && is_array( $input['colours'] ) ) {
		foreach ( POLLCHAT_COLOUR_KEYS as $key ) {
			if ( array_key_exists( $key, $input['colours'] ) ) {
				$out['colours'][ $key ] = (string) sanitize_hex_color( trim( (string) $input['colours'][ $key ] ) );
			}
		}
	}
	if ( isset( $input['font_family'] ) ) {
		// A CSS font list: names, quotes, commas, spaces and hyphens only.
		$font               = preg_replace( '/[^A-Za-z0-9 ,\'"\-]/', '', sanitize_text_field( (string) $input['font_family'] ) );
		$out['font_family'] = trim( preg_replace( '/\s+/', ' ', $font ) );
	}
	if ( isset( $input['language'] ) ) {
		$lang            = trim( (string) $input['language'] );
		$out['language'] = preg_match( '/^[a-z]{2,3}([-_][A-Za-z]{2,4})?$/', $lang ) ? $lang : '';
	}
	if ( array_key_exists( 'roles', $input ) || isset( $input['roles_sent'] ) ) {
		$known        = array_keys( wp_roles()->roles );
		$roles        = isset( $input['roles'] ) && is_array( $input['roles'] ) ? array_map( 'strval', $input['roles'] ) : array();
		$out['roles'] = array_values( array_intersect( $roles, $known ) );
	}
	return $out;
}

/**
 * Whether the current user may change the server URL. The URL decides
 * which script (widget.js) runs on every page for every logged-in user,
 * administrators included, so it takes what adding a script takes:
 * unfiltered_html, or manage_network_options on a network (where site
 * administrators have manage_options but not unfiltered_html). WP-CLI is
 * the server's owner. Filter: pollchat_can_set_server_url.
 *
 * @return bool
 */
function pollchat_can_set_server_url() {
	$can = ( defined( 'WP_CLI' ) && WP_CLI ) || current_user_can( 'unfiltered_html' ) || current_user_can( 'manage_network_options' );
	/**
	 * Filters whether the current user may change the pollchat server URL.
	 *
	 * @param bool $can From capabilities.
	 */
	return (bool) apply_filters( 'pollchat_can_set_server_url', $can );
}

/**
 * Reports a bad value on the settings page (only where that API is loaded).
 *
 * @param string $key     Field.
 * @param string $message Text.
 */
function pollchat_settings_error( $key, $message ) {
	if ( function_exists( 'add_settings_error' ) ) {
		add_settings_error( POLLCHAT_OPTION, 'pollchat_' . $key, $message );
	}
}

/**
 * Whether the chat can be shown: a server URL and a secret are set.
 *
 * @param array|null $s Settings; null reads them.
 * @return bool
 */
function pollchat_is_configured( $s = null ) {
	$s = null === $s ? pollchat_get_settings() : $s;
	return '' !== $s['server_url'] && '' !== $s['secret'];
}
