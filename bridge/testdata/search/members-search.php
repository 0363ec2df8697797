<?php
// A host site's member search for pollchat's users.http.search_url, as a
// PHP developer writes one: GET ?q=…&limit=… with HTTP Basic auth,
// answered in the users-info format (a JSON array of users, best first).
// It searches shown names only, never logins or emails.
//
// Test controls (environment): SEARCH_LOGIN, SEARCH_PASSWORD;
// SEARCH_COUNTER names a file counting the requests, SEARCH_LAST a file
// receiving the last query string; SEARCH_MODE names a file whose content
// makes the endpoint misbehave: notice (a PHP notice before the JSON),
// unsafe (javascript: URLs), bad-elements.

function bump($file) {
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

bump(getenv('SEARCH_COUNTER'));
if (getenv('SEARCH_LAST')) {
    file_put_contents(getenv('SEARCH_LAST'), $_SERVER['QUERY_STRING'] ?? '');
}
$mode = '';
if (getenv('SEARCH_MODE') && is_file(getenv('SEARCH_MODE'))) {
    $mode = trim(file_get_contents(getenv('SEARCH_MODE')));
}

$user = $_SERVER['PHP_AUTH_USER'] ?? null;
$pass = $_SERVER['PHP_AUTH_PW'] ?? null;
if (!hash_equals((string) getenv('SEARCH_LOGIN'), (string) $user) || !hash_equals((string) getenv('SEARCH_PASSWORD'), (string) $pass)) {
    header('WWW-Authenticate: Basic realm="search"');
    http_response_code(401);
    exit;
}

$members = array(
    array('id' => 1, 'login' => 'ann', 'name' => 'Ann Lee'),
    array('id' => 2, 'login' => 'annabel', 'name' => 'Annabel Smith'),
    array('id' => 3, 'login' => 'bob', 'name' => 'Bob Annesley'),
    array('id' => 4, 'login' => 'zoe', 'name' => 'Zoë Adams'),
    array('id' => 5, 'login' => 'cy', 'name' => 'Cy Young'),
);
$q = strtolower(trim((string) ($_GET['q'] ?? '')));
$limit = max(1, min(20, (int) ($_GET['limit'] ?? 10)));

header('Content-Type: application/json; charset=utf-8');
if ($mode === 'notice') {
    echo "<br />\n<b>Notice</b>:  Undefined index: q in <b>/var/www/members-search.php</b> on line <b>7</b><br />\n";
}
$out = array();
foreach ($members as $m) {
    $name = strtolower($m['name']);
    if ($q === '' || !(strpos($name, $q) === 0 || strpos($name, ' ' . $q) !== false)) {
        continue;
    }
    $out[] = array(
        'user_id' => $m['id'] % 2 ? $m['id'] : (string) $m['id'],
        'name' => $m['name'],
        'avatar_url' => $mode === 'unsafe' ? 'javascript:alert(1)' : false,
        'profile_url' => 'https://example.com/members/' . $m['id'],
        'role' => $m['id'] === 1 ? 'Administrator' : 'subscriber',
        'city' => 'Oslo',
    );
    if (count($out) >= $limit) {
        break;
    }
}
if ($mode === 'bad-elements') {
    array_unshift($out, 'not an object', array('name' => 'no id'));
}
echo json_encode($out, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE);
