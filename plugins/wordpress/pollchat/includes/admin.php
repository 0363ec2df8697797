<?php
/**
 * Settings → pollchat: the Settings API page. Saved through options.php
 * (nonce and manage_options checked there); secrets are write-only fields.
 *
 * @package Pollchat
 */

defined( 'ABSPATH' ) || exit;

/**
 * Adds the page under Settings.
 */
function pollchat_admin_menu() {
	add_options_page(
		__( 'pollchat', 'pollchat' ),
		__( 'pollchat', 'pollchat' ),
		'manage_options',
		'pollchat',
		'pollchat_render_settings_page'
	);
}
add_action( 'admin_menu', 'pollchat_admin_menu' );

/**
 * A "Settings" link on the Plugins screen.
 *
 * @param array $links Links.
 * @return array
 */
function pollchat_action_links( $links ) {
	array_unshift( $links, sprintf( '<a href="%s">%s</a>', esc_url( admin_url( 'options-general.php?page=pollchat' ) ), esc_html__( 'Settings', 'pollchat' ) ) );
	return $links;
}
add_filter( 'plugin_action_links_' . plugin_basename( POLLCHAT_PLUGIN_FILE ), 'pollchat_action_links' );

/**
 * Sections and fields.
 */
function pollchat_admin_init() {
	$page = 'pollchat';
	add_settings_section( 'pollchat_server', __( 'Server and identity', 'pollchat' ), 'pollchat_section_server', $page );
	add_settings_section( 'pollchat_api', __( 'Backend API', 'pollchat' ), 'pollchat_section_api', $page );
	add_settings_section( 'pollchat_users', __( 'Users-info route', 'pollchat' ), 'pollchat_section_users', $page );
	add_settings_section( 'pollchat_notify', __( 'Missed-message mails', 'pollchat' ), 'pollchat_section_notify', $page );
	add_settings_section( 'pollchat_look', __( 'Appearance', 'pollchat' ), '__return_false', $page );
	add_settings_section( 'pollchat_who', __( 'Who gets the chat', 'pollchat' ), '__return_false', $page );

	$fields = array(
		array( 'server_url', __( 'Server URL', 'pollchat' ), 'pollchat_server', 'pollchat_field_url' ),
		array( 'secret', __( 'Shared secret', 'pollchat' ), 'pollchat_server', 'pollchat_field_secret' ),
		array( 'link_secret', __( 'Link secret', 'pollchat' ), 'pollchat_server', 'pollchat_field_link_secret' ),
		array( 'scheme', __( 'Identity scheme', 'pollchat' ), 'pollchat_server', 'pollchat_field_scheme' ),
		array( 'api_login', __( 'API login', 'pollchat' ), 'pollchat_api', 'pollchat_field_text' ),
		array( 'api_password', __( 'API password', 'pollchat' ), 'pollchat_api', 'pollchat_field_secret' ),
		array( 'users_login', __( 'Users-info login', 'pollchat' ), 'pollchat_users', 'pollchat_field_text' ),
		array( 'users_password', __( 'Users-info password', 'pollchat' ), 'pollchat_users', 'pollchat_field_secret' ),
		array( 'notify_secret', __( 'Notify secret', 'pollchat' ), 'pollchat_notify', 'pollchat_field_link_secret' ),
		array( 'notify_link', __( 'Chat page', 'pollchat' ), 'pollchat_notify', 'pollchat_field_notify_link' ),
		array( 'position', __( 'Position', 'pollchat' ), 'pollchat_look', 'pollchat_field_position' ),
		array( 'colours', __( 'Colours', 'pollchat' ), 'pollchat_look', 'pollchat_field_colours' ),
		array( 'font_family', __( 'Font family', 'pollchat' ), 'pollchat_look', 'pollchat_field_text' ),
		array( 'language', __( 'Language', 'pollchat' ), 'pollchat_look', 'pollchat_field_text' ),
		array( 'roles', __( 'Roles', 'pollchat' ), 'pollchat_who', 'pollchat_field_roles' ),
	);
	foreach ( $fields as $f ) {
		add_settings_field(
			'pollchat_' . $f[0],
			$f[1],
			$f[3],
			$page,
			$f[2],
			array(
				'key'       => $f[0],
				'label_for' => 'pollchat_' . $f[0],
			)
		);
	}
}
add_action( 'admin_init', 'pollchat_admin_init' );

/** Section text. */
function pollchat_section_server() {
	echo '<p>' . esc_html__( 'Where the pollchat server runs, and the secret it shares with this site (auth.secret in its config.toml). Visitors\' identities are signed here with it; the secret never reaches the browser.', 'pollchat' ) . '</p>';
}

/** Section text. */
function pollchat_section_api() {
	echo '<p>' . esc_html__( 'The server\'s api.login and api.password. Used to tell the chat at once when a profile changes or a user is deleted.', 'pollchat' ) . '</p>';
}

/** Section text, with the route's URL for the server's [users.http]. */
function pollchat_section_users() {
	echo '<p>' . esc_html__( 'For servers that cannot read this site\'s database: point users.http.url at this address, with the login and password below as users.http.login and users.http.password. With no password set, the route refuses every call.', 'pollchat' ) . '</p>';
	echo '<p><code>' . esc_html( pollchat_users_info_url() ) . '</code></p>';
}

/** Section text, with the notice route's URL for the server's [notify]. */
function pollchat_section_notify() {
	echo '<p>' . esc_html__( 'pollchat can tell this site when a member has chat messages unread while away; the site then mails the member ("3 unread messages from Eve", with a link back). Set notify.url in pollchat\'s config.toml to this address and notify.secret to the notify secret below. Members can turn the mails off in their profile.', 'pollchat' ) . '</p>';
	echo '<p><code id="pollchat_notice_url">' . esc_html( pollchat_notice_url() ) . '</code></p>';
}

/**
 * The chat page linked from notice mails.
 *
 * @param array $args Field args.
 */
function pollchat_field_notify_link( $args ) {
	$s = pollchat_get_settings();
	printf(
		'<input type="url" class="regular-text code" id="pollchat_notify_link" name="%s" value="%s" placeholder="%s" />',
		esc_attr( pollchat_field_name( 'notify_link' ) ),
		esc_attr( $s['notify_link'] ),
		esc_attr( home_url( '/' ) )
	);
	echo '<p class="description">' . esc_html__( 'Where the link in a notice mail leads. Empty: the home page.', 'pollchat' ) . '</p>';
}

/**
 * Field name attribute for a key.
 *
 * @param string $key Key.
 * @param string $sub Sub-key.
 * @return string
 */
function pollchat_field_name( $key, $sub = '' ) {
	return POLLCHAT_OPTION . '[' . $key . ']' . ( '' !== $sub ? '[' . $sub . ']' : '' );
}

/**
 * A text field.
 *
 * @param array $args Field args.
 */
function pollchat_field_text( $args ) {
	$s       = pollchat_get_settings();
	$key     = $args['key'];
	$hints   = array(
		'font_family' => __( 'Optional, e.g. Georgia, serif. Empty: the widget\'s own.', 'pollchat' ),
		'language'    => __( 'Optional, e.g. de. Empty: the site\'s language.', 'pollchat' ),
	);
	printf(
		'<input type="text" class="regular-text" id="%s" name="%s" value="%s" autocomplete="off" />',
		esc_attr( 'pollchat_' . $key ),
		esc_attr( pollchat_field_name( $key ) ),
		esc_attr( $s[ $key ] )
	);
	if ( isset( $hints[ $key ] ) ) {
		echo '<p class="description">' . esc_html( $hints[ $key ] ) . '</p>';
	}
}

/**
 * The server URL field.
 *
 * @param array $args Field args.
 */
function pollchat_field_url( $args ) {
	$s   = pollchat_get_settings();
	$can = pollchat_can_set_server_url();
	printf(
		'<input type="url" class="regular-text code" id="pollchat_server_url" name="%s" value="%s" placeholder="https://chat.example.com" %s/>',
		esc_attr( pollchat_field_name( 'server_url' ) ),
		esc_attr( $s['server_url'] ),
		$can ? '' : 'readonly="readonly" '
	);
	if ( ! $can ) {
		echo '<p class="description">' . esc_html__( 'Only a user who may publish unfiltered HTML (a network administrator on a network) can change this address: it decides which script every visitor runs.', 'pollchat' ) . '</p>';
	}
}

/**
 * A generated secret the admin copies into pollchat's config.toml: the link
 * secret (auth.link_secret) or the notify secret (notify.secret). Shown as
 * a password field with Show and Copy; generated on activation, replaced
 * by pasting a longer one, regenerated by the box.
 *
 * @param array $args Field args.
 */
function pollchat_field_link_secret( $args ) {
	$s    = pollchat_get_settings();
	$key  = $args['key'];
	$id   = 'pollchat_' . $key;
	$help = array(
		'link_secret'   => __( 'auth.link_secret in pollchat\'s config.toml. Chat links (the popup window) are signed with it, never with the shared secret, so that a link is not a login. It must differ from the shared secret.', 'pollchat' ),
		'notify_secret' => __( 'notify.secret in pollchat\'s config.toml. pollchat signs its notices with it; a notice without the right signature, or signed more than 5 minutes ago, is refused.', 'pollchat' ),
	);
	printf(
		'<input type="password" class="regular-text code pollchat-shown-secret" id="%s" name="%s" value="%s" autocomplete="off" spellcheck="false" />',
		esc_attr( $id ),
		esc_attr( pollchat_field_name( $key ) ),
		esc_attr( $s[ $key ] )
	);
	printf(
		' <button type="button" class="button pollchat-secret-show" id="%s" data-for="%s">%s</button> <button type="button" class="button pollchat-secret-copy" id="%s" data-for="%s">%s</button>',
		esc_attr( $id . '_show' ),
		esc_attr( $id ),
		esc_html__( 'Show', 'pollchat' ),
		esc_attr( $id . '_copy' ),
		esc_attr( $id ),
		esc_html__( 'Copy', 'pollchat' )
	);
	printf(
		' <label><input type="checkbox" name="%s" value="%s" /> %s</label>',
		esc_attr( pollchat_field_name( 'clear' ) . '[]' ),
		esc_attr( $key ),
		esc_html__( 'Generate a new one', 'pollchat' )
	);
	echo '<p class="description">' . esc_html( $help[ $key ] ) . '</p>';
}

/**
 * A secret: write-only. The stored value is never printed; the field says
 * whether one is set, leaving it empty keeps it, the box clears it.
 *
 * @param array $args Field args.
 */
function pollchat_field_secret( $args ) {
	$s   = pollchat_get_settings();
	$key = $args['key'];
	$set = '' !== $s[ $key ];
	printf(
		'<input type="password" class="regular-text" id="%s" name="%s" value="" autocomplete="new-password" placeholder="%s" />',
		esc_attr( 'pollchat_' . $key ),
		esc_attr( pollchat_field_name( $key ) ),
		esc_attr( $set ? __( 'stored – type to replace', 'pollchat' ) : __( 'not set', 'pollchat' ) )
	);
	if ( $set ) {
		printf(
			' <label><input type="checkbox" name="%s" value="%s" /> %s</label>',
			esc_attr( pollchat_field_name( 'clear' ) . '[]' ),
			esc_attr( $key ),
			esc_html__( 'Clear', 'pollchat' )
		);
	}
}

/**
 * Identity scheme radio buttons.
 *
 * @param array $args Field args.
 */
function pollchat_field_scheme( $args ) {
	$s       = pollchat_get_settings();
	$choices = array(
		'hash' => __( 'Signed id and timestamp (SHA1 hash, eStreamChat style)', 'pollchat' ),
		'jwt'  => __( 'HS256 token (JWT, 12 hours)', 'pollchat' ),
	);
	echo '<fieldset id="pollchat_scheme">';
	foreach ( $choices as $value => $label ) {
		printf(
			'<label><input type="radio" name="%s" value="%s" %s /> %s</label><br />',
			esc_attr( pollchat_field_name( 'scheme' ) ),
			esc_attr( $value ),
			checked( $s['scheme'], $value, false ),
			esc_html( $label )
		);
	}
	echo '</fieldset>';
}

/**
 * Position select.
 *
 * @param array $args Field args.
 */
function pollchat_field_position( $args ) {
	$s       = pollchat_get_settings();
	$choices = array(
		'bottom-right' => __( 'Bottom right', 'pollchat' ),
		'bottom-left'  => __( 'Bottom left', 'pollchat' ),
	);
	printf( '<select id="pollchat_position" name="%s">', esc_attr( pollchat_field_name( 'position' ) ) );
	foreach ( $choices as $value => $label ) {
		printf( '<option value="%s" %s>%s</option>', esc_attr( $value ), selected( $s['position'], $value, false ), esc_html( $label ) );
	}
	echo '</select>';
}

/**
 * Colour fields (#rrggbb; empty: the widget's default).
 *
 * @param array $args Field args.
 */
function pollchat_field_colours( $args ) {
	$s      = pollchat_get_settings();
	$labels = array(
		'header'          => __( 'Header', 'pollchat' ),
		'headerButton'    => __( 'Header buttons', 'pollchat' ),
		'body'            => __( 'Body', 'pollchat' ),
		'launcher'        => __( 'Launcher', 'pollchat' ),
		'messageSent'     => __( 'Sent messages', 'pollchat' ),
		'messageReceived' => __( 'Received messages', 'pollchat' ),
	);
	echo '<fieldset id="pollchat_colours">';
	foreach ( $labels as $key => $label ) {
		printf(
			'<div class="pollchat-colour-field" style="display:inline-block;vertical-align:top;margin:0 1.5em .6em 0"><label for="%1$s">%2$s</label><br /><input type="text" class="pollchat-colour" id="%1$s" name="%3$s" value="%4$s" maxlength="7" size="8" placeholder="#rrggbb" /></div>',
			esc_attr( 'pollchat_colour_' . $key ),
			esc_html( $label ),
			esc_attr( pollchat_field_name( 'colours', $key ) ),
			esc_attr( $s['colours'][ $key ] )
		);
	}
	echo '</fieldset>';
	echo '<p class="description">' . esc_html__( 'Empty: the widget\'s default colour.', 'pollchat' ) . '</p>';
}

/**
 * The colour picker on the settings page only.
 *
 * @param string $hook_suffix The admin page.
 */
function pollchat_admin_scripts( $hook_suffix ) {
	if ( 'settings_page_pollchat' !== $hook_suffix ) {
		return;
	}
	wp_enqueue_style( 'wp-color-picker' );
	wp_enqueue_script( 'wp-color-picker' );
	wp_add_inline_script( 'wp-color-picker', 'jQuery(function ($) { $(".pollchat-colour").wpColorPicker(); });' );
	wp_add_inline_script(
		'wp-color-picker',
		'jQuery(function ($) { function field(b) { return $(document.getElementById($(b).attr("data-for"))); }'
		. ' $(".pollchat-secret-show").on("click", function () { var f = field(this); f.attr("type", f.attr("type") === "password" ? "text" : "password"); });'
		. ' $(".pollchat-secret-copy").on("click", function () { var f = field(this), v = String(f.val()), t = f.attr("type"); if (navigator.clipboard && window.isSecureContext) { navigator.clipboard.writeText(v); } else { f.attr("type", "text"); f[0].select(); document.execCommand("copy"); f.attr("type", t); } }); });'
	);
}
add_action( 'admin_enqueue_scripts', 'pollchat_admin_scripts' );

/**
 * Role checkboxes.
 *
 * @param array $args Field args.
 */
function pollchat_field_roles( $args ) {
	$s = pollchat_get_settings();
	printf( '<input type="hidden" name="%s" value="1" />', esc_attr( pollchat_field_name( 'roles_sent' ) ) );
	echo '<fieldset id="pollchat_roles">';
	foreach ( wp_roles()->get_names() as $role => $name ) {
		printf(
			'<label><input type="checkbox" name="%s" value="%s" %s /> %s</label><br />',
			esc_attr( pollchat_field_name( 'roles' ) . '[]' ),
			esc_attr( $role ),
			checked( in_array( $role, $s['roles'], true ), true, false ),
			esc_html( translate_user_role( $name ) )
		);
	}
	echo '</fieldset>';
	echo '<p class="description">' . esc_html__( 'None ticked: every logged-in user. Guests never get the chat.', 'pollchat' ) . '</p>';
}

/**
 * The page.
 */
function pollchat_render_settings_page() {
	if ( ! current_user_can( 'manage_options' ) ) {
		wp_die( esc_html__( 'Sorry, you are not allowed to manage these settings.', 'pollchat' ), 403 );
	}
	echo '<div class="wrap">';
	echo '<h1>' . esc_html( get_admin_page_title() ) . '</h1>';
	$s = pollchat_get_settings();
	if ( ! pollchat_is_configured( $s ) ) {
		echo '<div class="notice notice-warning inline"><p>' . esc_html__( 'The chat is off until a server URL and a shared secret are set.', 'pollchat' ) . '</p></div>';
	}
	if ( 0 === strpos( $s['server_url'], 'http://' ) ) {
		echo '<div class="notice notice-warning inline" id="pollchat_plain_http"><p>' . esc_html__( 'The server URL is plain http: the API password (sent with every profile change and connection test) and the visitors\' signed identities cross the network unencrypted. Put pollchat behind https.', 'pollchat' ) . '</p></div>';
	}
	pollchat_render_test_result();
	echo '<form action="' . esc_url( admin_url( 'options.php' ) ) . '" method="post">';
	settings_fields( 'pollchat' );
	do_settings_sections( 'pollchat' );
	submit_button();
	echo '</form>';
	echo '<h2>' . esc_html__( 'Test connection', 'pollchat' ) . '</h2>';
	echo '<p>' . esc_html__( 'Asks the pollchat server for its online users with the saved server URL and API login and password.', 'pollchat' ) . '</p>';
	echo '<form action="' . esc_url( admin_url( 'admin-post.php' ) ) . '" method="post">';
	echo '<input type="hidden" name="action" value="pollchat_test_connection" />';
	wp_nonce_field( 'pollchat_test_connection' );
	echo '<button type="submit" class="button" id="pollchat_test_connection">' . esc_html__( 'Test connection', 'pollchat' ) . '</button>';
	echo '</form></div>';
}

/**
 * Reaches pollchat with the API credentials (GET /api/v1/online with Basic
 * auth) and says how it went: ok, credentials (401/403), unreachable (no
 * answer), not_configured, or error (any other answer).
 *
 * @param array $s Settings.
 * @return array{status:string,message:string}
 */
function pollchat_test_connection( array $s ) {
	if ( '' === $s['server_url'] || '' === $s['api_password'] ) {
		return array(
			'status'  => 'not_configured',
			'message' => __( 'Set the server URL and the API login and password first.', 'pollchat' ),
		);
	}
	$r = wp_remote_get(
		$s['server_url'] . '/api/v1/online',
		array(
			'timeout'     => 5,
			'redirection' => 0,
			'headers'     => array(
				// phpcs:ignore WordPress.PHP.DiscouragedPHPFunctions.obfuscation_base64_encode -- HTTP Basic.
				'Authorization' => 'Basic ' . base64_encode( $s['api_login'] . ':' . $s['api_password'] ),
			),
		)
	);
	if ( is_wp_error( $r ) ) {
		return array(
			'status'  => 'unreachable',
			/* translators: %s: the error. */
			'message' => sprintf( __( 'pollchat could not be reached: %s', 'pollchat' ), $r->get_error_message() ),
		);
	}
	$code = (int) wp_remote_retrieve_response_code( $r );
	$body = json_decode( wp_remote_retrieve_body( $r ), true );
	if ( 401 === $code || 403 === $code ) {
		return array(
			'status'  => 'credentials',
			'message' => __( 'pollchat answered, but refused the API login and password: they must be api.login and api.password of its config.toml.', 'pollchat' ),
		);
	}
	if ( 200 === $code && is_array( $body ) && isset( $body['users'] ) && is_array( $body['users'] ) ) {
		return array(
			'status'  => 'ok',
			/* translators: %d: users online. */
			'message' => sprintf( _n( 'Connected: pollchat accepted the API credentials; %d user is online.', 'Connected: pollchat accepted the API credentials; %d users are online.', count( $body['users'] ), 'pollchat' ), count( $body['users'] ) ),
		);
	}
	return array(
		'status'  => 'error',
		/* translators: %d: HTTP status. */
		'message' => sprintf( __( 'The server URL answered HTTP %d, not as pollchat does: check the address.', 'pollchat' ), $code ),
	);
}

/**
 * admin-post.php?action=pollchat_test_connection: runs the test for a
 * manager (nonce checked) and shows the result on the settings page.
 */
function pollchat_handle_test_connection() {
	if ( ! current_user_can( 'manage_options' ) ) {
		wp_die( esc_html__( 'Sorry, you are not allowed to manage these settings.', 'pollchat' ), 403 );
	}
	check_admin_referer( 'pollchat_test_connection' );
	set_transient( 'pollchat_test_' . get_current_user_id(), pollchat_test_connection( pollchat_get_settings() ), 5 * MINUTE_IN_SECONDS );
	wp_safe_redirect( admin_url( 'options-general.php?page=pollchat' ) );
	exit;
}
add_action( 'admin_post_pollchat_test_connection', 'pollchat_handle_test_connection' );

/**
 * The last test's result for this user, once.
 */
function pollchat_render_test_result() {
	$key    = 'pollchat_test_' . get_current_user_id();
	$result = get_transient( $key );
	if ( ! is_array( $result ) || ! isset( $result['status'], $result['message'] ) ) {
		return;
	}
	delete_transient( $key );
	printf(
		'<div class="notice notice-%s inline" id="pollchat_test_result" data-status="%s"><p>%s</p></div>',
		'ok' === $result['status'] ? 'success' : 'error',
		esc_attr( $result['status'] ),
		esc_html( $result['message'] )
	);
}
