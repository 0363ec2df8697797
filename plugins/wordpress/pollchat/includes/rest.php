<?php
/**
 * The users-info route pollchat asks for names and avatars (docs/protocol.md
 * section 7, the ImbaChat format): GET /wp-json/pollchat/v1/users-info?user_ids=1,2,3
 * with HTTP Basic auth, answering a JSON array of users.
 *
 * @package Pollchat
 */

defined( 'ABSPATH' ) || exit;

/** Most ids one call may ask for. */
const POLLCHAT_USERS_INFO_MAX = 100;

/**
 * Registers the route.
 */
function pollchat_register_rest_routes() {
	register_rest_route(
		'pollchat/v1',
		'/users-info',
		array(
			'methods'             => WP_REST_Server::READABLE,
			'callback'            => 'pollchat_rest_users_info',
			'permission_callback' => 'pollchat_rest_users_permission',
			'args'                => array(
				'user_ids' => array(
					'required'          => true,
					'type'              => 'string',
					'validate_callback' => 'pollchat_rest_validate_user_ids',
				),
			),
		)
	);
}
add_action( 'rest_api_init', 'pollchat_register_rest_routes' );

/**
 * The route's URL, for the settings page and pollchat's users.http.url.
 *
 * @return string
 */
function pollchat_users_info_url() {
	return rest_url( 'pollchat/v1/users-info' );
}

/**
 * Whether the current request is for this plugin's REST routes (read from
 * the raw request, since it is needed before WordPress has parsed it).
 *
 * @return bool
 */
function pollchat_is_own_rest_request() {
	// phpcs:disable WordPress.Security.ValidatedSanitizedInput -- only compared.
	if ( isset( $_GET['rest_route'] ) && is_string( $_GET['rest_route'] ) ) {
		return 0 === strpos( ltrim( wp_unslash( $_GET['rest_route'] ), '/' ), 'pollchat/v1/' );
	}
	$uri = isset( $_SERVER['REQUEST_URI'] ) ? (string) wp_unslash( $_SERVER['REQUEST_URI'] ) : '';
	// phpcs:enable
	$path = (string) wp_parse_url( $uri, PHP_URL_PATH );
	return false !== strpos( $path, '/' . rest_get_url_prefix() . '/pollchat/v1/' );
}

/**
 * The route's Basic credentials are pollchat's, not a WordPress user's: keep
 * WordPress's application-password check (which reads the same header and
 * would refuse an unknown login before our permission_callback runs) away
 * from this route.
 *
 * @param bool $is_api_request From WordPress.
 * @return bool
 */
function pollchat_skip_application_passwords( $is_api_request ) {
	return $is_api_request && ! pollchat_is_own_rest_request();
}
add_filter( 'application_password_is_api_request', 'pollchat_skip_application_passwords' );

/**
 * permission_callback: the Basic credentials must be the users-info login
 * and password from the settings (compared in constant time). An unset
 * password keeps the route closed.
 *
 * @return true|WP_Error
 */
function pollchat_rest_users_permission() {
	$s = pollchat_get_settings();
	if ( Pollchat_Basic_Auth::check( $_SERVER, $s['users_login'], $s['users_password'] ) ) {
		return true;
	}
	return new WP_Error( 'pollchat_unauthorized', __( 'Wrong or missing users-info credentials.', 'pollchat' ), array( 'status' => 401 ) );
}

/**
 * Adds WWW-Authenticate to the users-info route's 401 answers, as Basic
 * auth asks (the notice route is signed, not Basic).
 *
 * @param WP_HTTP_Response $response Response.
 * @param WP_REST_Server   $server   Server.
 * @param WP_REST_Request  $request  Request.
 * @return WP_HTTP_Response
 */
function pollchat_rest_challenge( $response, $server, $request ) {
	if ( 401 === $response->get_status() && '/pollchat/v1/users-info' === $request->get_route() ) {
		$response->header( 'WWW-Authenticate', 'Basic realm="pollchat users-info"' );
	}
	return $response;
}
add_filter( 'rest_post_dispatch', 'pollchat_rest_challenge', 10, 3 );

/**
 * Splits "1,2,3" into positive integer ids, at most POLLCHAT_USERS_INFO_MAX,
 * duplicates removed. Null when the list is malformed or too long.
 *
 * @param mixed $value The user_ids parameter.
 * @return int[]|null
 */
function pollchat_parse_user_ids( $value ) {
	if ( ! is_string( $value ) || ! preg_match( '/^\s*\d+\s*(,\s*\d+\s*)*$/', $value ) ) {
		return null;
	}
	$ids = array_values( array_unique( array_filter( array_map( 'absint', explode( ',', $value ) ) ) ) );
	if ( count( $ids ) > POLLCHAT_USERS_INFO_MAX ) {
		return null;
	}
	return $ids;
}

/**
 * validate_callback for user_ids.
 *
 * @param mixed $value The parameter.
 * @return true|WP_Error
 */
function pollchat_rest_validate_user_ids( $value ) {
	if ( null === pollchat_parse_user_ids( $value ) ) {
		/* translators: %d: most ids in one call. */
		return new WP_Error( 'rest_invalid_param', sprintf( __( 'user_ids must be a comma-separated list of at most %d numeric ids.', 'pollchat' ), POLLCHAT_USERS_INFO_MAX ), array( 'status' => 400 ) );
	}
	return true;
}

/**
 * The chat role of a user, from capabilities: manage_options (administrators)
 * is admin, moderate_comments (editors) is mod, anyone else member.
 * Filter: pollchat_user_role.
 *
 * @param WP_User $user The user.
 * @return string
 */
function pollchat_user_role( WP_User $user ) {
	$role = 'member';
	if ( user_can( $user, 'manage_options' ) ) {
		$role = 'admin';
	} elseif ( user_can( $user, 'moderate_comments' ) ) {
		$role = 'mod';
	}
	/**
	 * Filters a user's role in the chat: admin, mod or member.
	 *
	 * @param string  $role From capabilities.
	 * @param WP_User $user The user.
	 */
	return (string) apply_filters( 'pollchat_user_role', $role, $user );
}

/**
 * Whether a name gives away how the user logs in: empty, the login, the
 * nicename (the author slug), the email, or any email address.
 *
 * @param string  $name Candidate.
 * @param WP_User $user The user.
 * @return bool
 */
function pollchat_name_leaks_login( $name, WP_User $user ) {
	$n = strtolower( trim( (string) $name ) );
	if ( '' === $n || false !== strpos( $n, '@' ) ) {
		return true;
	}
	foreach ( array( $user->user_login, $user->user_nicename, $user->user_email ) as $private ) {
		if ( '' !== (string) $private && strtolower( trim( (string) $private ) ) === $n ) {
			return true;
		}
	}
	return false;
}

/**
 * The name every chat user sees: the display name, else the nickname, when
 * it does not give away the login or the email; else "User N". WordPress
 * sets both to the login for new users, so many sites have such names.
 * Filter: pollchat_user_name.
 *
 * @param WP_User $user The user.
 * @return string
 */
function pollchat_public_name( WP_User $user ) {
	/* translators: %d: user id. */
	$name = sprintf( __( 'User %d', 'pollchat' ), $user->ID );
	foreach ( array( $user->display_name, $user->nickname ) as $candidate ) {
		if ( ! pollchat_name_leaks_login( $candidate, $user ) ) {
			$name = trim( (string) $candidate );
			break;
		}
	}
	/**
	 * Filters the name a user has in the chat (users-info, tokens, links).
	 *
	 * @param string  $name Display name or nickname that does not show the login, or "User N".
	 * @param WP_User $user The user.
	 */
	return (string) apply_filters( 'pollchat_user_name', $name, $user );
}

/**
 * The user's author page, only for users with published posts (WordPress
 * shows those pages anyway); for others the author slug would tell every
 * chat user their login. Filter: pollchat_user_profile_url ('' for none).
 *
 * @param WP_User $user The user.
 * @return string
 */
function pollchat_profile_url( WP_User $user ) {
	$url = count_user_posts( $user->ID, 'post', true ) > 0 ? get_author_posts_url( $user->ID, $user->user_nicename ) : '';
	/**
	 * Filters a user's profile link in the chat; '' for none.
	 *
	 * @param string  $url  Author page of users with published posts, else ''.
	 * @param WP_User $user The user.
	 */
	return (string) apply_filters( 'pollchat_user_profile_url', $url, $user );
}

/**
 * One user in the users-info format.
 *
 * @param WP_User $user The user.
 * @return array
 */
function pollchat_user_info( WP_User $user ) {
	$info = array(
		'user_id'     => (string) $user->ID,
		'name'       => pollchat_public_name( $user ),
		// get_avatar_url runs the avatar filters, so avatar plugins are honoured.
		'avatar_url' => (string) get_avatar_url( $user->ID, array( 'size' => 96 ) ),
		'role'       => pollchat_user_role( $user ),
	);
	$profile = pollchat_profile_url( $user );
	if ( '' !== $profile ) {
		$info['profile_url'] = $profile;
	}
	/**
	 * Filters one user's users-info entry (add fields: they are passed through
	 * to the chat).
	 *
	 * @param array   $info The entry.
	 * @param WP_User $user The user.
	 */
	return apply_filters( 'pollchat_user_info', $info, $user );
}

/**
 * The route: users that exist, in the order asked; unknown ids are left out.
 *
 * @param WP_REST_Request $request Request.
 * @return WP_REST_Response
 */
function pollchat_rest_users_info( WP_REST_Request $request ) {
	$ids = pollchat_parse_user_ids( $request->get_param( 'user_ids' ) );
	$out = array();
	if ( $ids ) {
		$users = get_users(
			array(
				'include' => $ids,
				'orderby' => 'include',
				'number'  => count( $ids ),
				'blog_id' => 0,
			)
		);
		foreach ( $users as $user ) {
			$out[] = pollchat_user_info( $user );
		}
	}
	$response = new WP_REST_Response( $out, 200 );
	$response->header( 'Cache-Control', 'no-store' );
	return $response;
}
