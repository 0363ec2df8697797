<?php
// A host site's users-info endpoint in the ImbaChat format, as a PHP
// developer writes one: GET ?user_ids=1,2,3 with HTTP Basic auth, answered
// by a JSON array of {user_id, name, avatar_url, profile_url, role, ...}.
// It reads the WordPress tables of the test's MariaDB with PDO.
//
// Test controls (environment): USERS_INFO_DSN, USERS_INFO_PREFIX,
// USERS_INFO_LOGIN, USERS_INFO_PASSWORD, USERS_INFO_SITE; USERS_INFO_COUNTER
// names a file counting the requests; USERS_INFO_MODE names a file whose
// content makes the endpoint misbehave: 500, garbage, hang, partial, empty.

function count_request() {
    $file = getenv('USERS_INFO_COUNTER');
    if (!$file) {
        return;
    }
    $f = fopen($file, 'c+');
    flock($f, LOCK_EX);
    $n = (int) stream_get_contents($f);
    ftruncate($f, 0);
    rewind($f);
    fwrite($f, (string) ($n + 1));
    fflush($f);
    flock($f, LOCK_UN);
    fclose($f);
}

count_request();

$mode = '';
if (getenv('USERS_INFO_MODE') && is_file(getenv('USERS_INFO_MODE'))) {
    $mode = trim(file_get_contents(getenv('USERS_INFO_MODE')));
}
switch ($mode) {
    case '500':
        http_response_code(500);
        echo 'Error establishing a database connection';
        exit;
    case 'garbage':
        header('Content-Type: text/html');
        echo "<br />\n<b>Warning</b>:  mysqli_connect(): (HY000/2002): Connection refused in <b>/var/www/users.php</b><br />\n";
        exit;
    case 'hang':
        sleep(60);
        exit;
    case 'partial':
        header('Content-Type: application/json');
        echo '[{"user_id":1,"name":"Ad';
        exit;
}

$user = $_SERVER['PHP_AUTH_USER'] ?? null;
$pass = $_SERVER['PHP_AUTH_PW'] ?? null;
if ($user === null && isset($_SERVER['HTTP_AUTHORIZATION']) && stripos($_SERVER['HTTP_AUTHORIZATION'], 'basic ') === 0) {
    $pair = explode(':', (string) base64_decode(substr($_SERVER['HTTP_AUTHORIZATION'], 6)), 2);
    $user = $pair[0];
    $pass = $pair[1] ?? '';
}
if (!hash_equals((string) getenv('USERS_INFO_LOGIN'), (string) $user) || !hash_equals((string) getenv('USERS_INFO_PASSWORD'), (string) $pass)) {
    header('WWW-Authenticate: Basic realm="users-info"');
    http_response_code(401);
    exit;
}

$ids = array();
foreach (explode(',', (string) ($_GET['user_ids'] ?? '')) as $id) {
    if (ctype_digit($id) && $id !== '0') {
        $ids[] = (int) $id;
    }
}
$ids = array_slice(array_values(array_unique($ids)), 0, 100);

header('Content-Type: application/json; charset=utf-8');
if (!$ids) {
    echo '[]';
    exit;
}

$db = new PDO(getenv('USERS_INFO_DSN'), 'root', '', array(PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION));
$p = preg_replace('/[^A-Za-z0-9_]/', '', (string) getenv('USERS_INFO_PREFIX'));
$in = implode(',', array_fill(0, count($ids), '?'));
$q = $db->prepare("SELECT u.ID, u.display_name, u.user_login, u.user_nicename, u.user_email, m.meta_value FROM {$p}users u
    LEFT JOIN {$p}usermeta m ON m.user_id = u.ID AND m.meta_key = ? WHERE u.ID IN ($in)");
$q->execute(array_merge(array($p . 'capabilities'), $ids));

$site = rtrim((string) getenv('USERS_INFO_SITE'), '/');
$out = array();
foreach ($q->fetchAll(PDO::FETCH_ASSOC) as $row) {
    $caps = @unserialize((string) $row['meta_value'], array('allowed_classes' => false));
    $role = 'member';
    if (is_array($caps) && !empty($caps['administrator'])) {
        $role = 'admin';
    } elseif (is_array($caps) && !empty($caps['editor'])) {
        $role = 'mod';
    }
    $id = (int) $row['ID'];
    // A display name that is the login or an email is not shown (as the
    // plugins and the mysql presets do).
    $name = trim((string) $row['display_name']);
    $lower = strtolower($name);
    if ($name === '' || strpos($name, '@') !== false || in_array($lower, array_map('strtolower', array($row['user_login'], $row['user_nicename'], $row['user_email'])), true)) {
        $name = 'User ' . $id;
    }
    $out[] = array(
        // Some endpoints send ids as numbers, some as strings: both are fine.
        'user_id' => $id % 2 ? $id : (string) $id,
        'name' => $name,
        'avatar_url' => 'https://secure.gravatar.com/avatar/' . md5(strtolower(trim($row['user_email']))) . '?s=96&d=mm&r=g',
        'profile_url' => $site . '/?author=' . $id,
        'role' => $role,
        // Extra fields are passed through to the widget.
        'badge' => $role === 'admin' ? 'staff' : null,
        'stats' => array('posts' => $id * 3),
    );
}
echo json_encode($out, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE);
