<?php
/**
 * The plugin's one option (pollchat_settings): defaults, reading, sanitising.
 *
 * @package Pollchat
 */

defined( 'ABSPATH' ) || exit;

/** Option name. */
const POLLCHAT_OPTION = 'pollchat_settings';

/** Keys of settings that are secrets: stored, never printed back. */
const POLLCHAT_SECRET_KEYS = array( 'secret', 'api_password', 'users_password' );

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
		if ( '' !== $raw && '' === $url ) {
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
			$out[ $key ] = trim( $input[ $key ] );
		}
	}

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
