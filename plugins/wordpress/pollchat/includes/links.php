<?php
/**
 * "Chat with this user" links: the [pollchat_link] shortcode and the
 * pollchat_chat_link() template function. The widget opens the dialog
 * (Pollchat.openDialog) when such a link is clicked.
 *
 * @package Pollchat
 */

defined( 'ABSPATH' ) || exit;

/**
 * The popup chat page for the current user and another
 * ({server}/chat?id&target&timestamp&hash), signed with the link secret,
 * never with the identity secret; '' when there is no link secret, no
 * server or no logged-in user.
 *
 * @param int $target_id The other user.
 * @return string
 */
function pollchat_chat_popup_url( $target_id ) {
	$s    = pollchat_get_settings();
	$me   = get_current_user_id();
	$link = Pollchat_Signer::chat_link( $s['link_secret'], $me, absint( $target_id ) );
	if ( ! $me || ! $link || '' === $s['server_url'] ) {
		return '';
	}
	return $s['server_url'] . '/chat?' . http_build_query( $link, '', '&', PHP_QUERY_RFC3986 );
}

/**
 * The HTML of a chat link to a user. Guests get a link to the login page;
 * users without the chat, links to themselves and unknown users get ''.
 * The widget opens the dialog on click; without it (scripts blocked) the
 * link opens the signed popup page.
 *
 * @param int    $user_id The user to chat with.
 * @param string $text    Link text; '' means "Chat with {display name}".
 * @return string
 */
function pollchat_chat_link_html( $user_id, $text = '' ) {
	$user_id = absint( $user_id );
	$target  = $user_id ? get_userdata( $user_id ) : false;
	if ( ! $target || ! pollchat_is_configured() ) {
		return '';
	}
	if ( '' === (string) $text ) {
		/* translators: %s: the other user's display name. */
		$text = sprintf( __( 'Chat with %s', 'pollchat' ), pollchat_public_name( $target ) );
	}
	if ( ! is_user_logged_in() ) {
		$back = is_singular() ? get_permalink() : home_url( '/' );
		return sprintf(
			'<a href="%s" class="pollchat-link pollchat-link-login">%s</a>',
			esc_url( wp_login_url( $back ) ),
			esc_html( $text )
		);
	}
	if ( get_current_user_id() === $user_id || ! pollchat_user_can_chat() ) {
		return '';
	}
	$popup = pollchat_chat_popup_url( $user_id );
	return sprintf(
		'<a href="%1$s" class="pollchat-link" data-pollchat-user="%2$s"%3$s>%4$s</a>',
		esc_url( '' !== $popup ? $popup : '#pollchat-' . $user_id ),
		esc_attr( (string) $user_id ),
		'' !== $popup ? ' target="_blank" rel="noopener noreferrer nofollow"' : '',
		esc_html( $text )
	);
}

/**
 * Template function: echoes (or returns) a "Chat with" link, e.g. in an
 * author box: pollchat_chat_link( get_the_author_meta( 'ID' ) ).
 *
 * @param int    $user_id The user to chat with.
 * @param string $text    Link text; '' means "Chat with {display name}".
 * @param bool   $echo    Echo (default) or return.
 * @return string
 */
function pollchat_chat_link( $user_id, $text = '', $echo = true ) {
	$html = pollchat_chat_link_html( $user_id, $text );
	if ( $echo ) {
		echo $html; // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped -- escaped in pollchat_chat_link_html().
	}
	return $html;
}

/**
 * [pollchat_link user="ID" text="Chat with …"]; user="author" means the
 * current post's author.
 *
 * @param array|string $atts Shortcode attributes.
 * @return string
 */
function pollchat_link_shortcode( $atts ) {
	$atts = shortcode_atts(
		array(
			'user' => '',
			'text' => '',
		),
		$atts,
		'pollchat_link'
	);
	$user = 'author' === $atts['user'] ? (int) get_the_author_meta( 'ID' ) : absint( $atts['user'] );
	return pollchat_chat_link_html( $user, (string) $atts['text'] );
}
add_shortcode( 'pollchat_link', 'pollchat_link_shortcode' );
