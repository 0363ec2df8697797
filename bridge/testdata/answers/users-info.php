<?php
// Users-info answers as PHP scripts on real sites write them. The file
// named by ANSWERS_MODE picks the answer:
//
//   good      a clean answer
//   imbachat  'avatar_url' => false for members without an avatar
//   loose     numbers for strings, null and "" for optional fields, roles
//             in capitals, URLs with other schemes
//   one-bad   elements without a usable user_id among good ones
//   keyed     $out[$id] = ...: json_encode writes an object
//   notice    display_errors on: a PHP warning printed before the JSON
//   html      a maintenance page with status 200
//   500       a fatal error page

$mode = trim((string) @file_get_contents((string) getenv('ANSWERS_MODE')));
$ids = array();
foreach (explode(',', (string) ($_GET['user_ids'] ?? '')) as $id) {
    if (ctype_digit($id)) {
        $ids[] = (int) $id;
    }
}

function member($id) {
    return array(
        'user_id' => $id,
        'name' => "Member $id",
        'avatar_url' => "https://cdn.example.com/a/$id.png",
        'profile_url' => "https://site.example.com/u/$id",
        'role' => $id === 1 ? 'admin' : 'member',
    );
}

$out = array();
switch ($mode) {
    case 'imbachat':
        foreach ($ids as $id) {
            $avatar = false;
            if ($id % 2 === 0) {
                $avatar = "https://cdn.example.com/a/$id.png";
            }
            $out[] = array('user_id' => $id, 'name' => "Member $id", 'avatar_url' => $avatar, 'role' => $id === 1 ? 'admin' : 'user');
        }
        break;
    case 'loose':
        foreach ($ids as $id) {
            $u = array('user_id' => $id, 'name' => $id * 1000, 'avatar_url' => null, 'profile_url' => '', 'role' => 'Subscriber');
            if ($id === 1) {
                $u['role'] = 'ADMINISTRATOR';
                $u['user_id'] = (string) $id;
                $u['profile_url'] = '/members/1';
            } elseif ($id === 2) {
                $u['role'] = 'Moderator';
                $u['avatar_url'] = 'javascript:alert(document.cookie)';
                $u['profile_url'] = 'data:text/html,<script>alert(1)</script>';
            } elseif ($id === 3) {
                $u['avatar_url'] = ' vbscript:msgbox(1)';
                $u['profile_url'] = 'members/3';
            }
            $out[] = $u;
        }
        break;
    case 'one-bad':
        $out[] = array('user_id' => null, 'name' => 'Ghost');
        foreach ($ids as $id) {
            $out[] = member($id);
        }
        $out[] = 'oops';
        $out[] = array('user_id' => 'a,b', 'name' => 'Comma');
        break;
    case 'keyed':
        foreach ($ids as $id) {
            $out[$id] = member($id);
        }
        break;
    case 'notice':
        ini_set('display_errors', '1');
        ini_set('html_errors', '1');
        error_reporting(E_ALL);
        $row = array();
        foreach ($ids as $id) {
            $u = member($id);
            $u['name'] = $row['display_name'];
            $out[] = $u;
        }
        break;
    case 'html':
        header('Content-Type: text/html; charset=utf-8');
        echo "<!DOCTYPE html>\n<html><head><title>Briefly unavailable for scheduled maintenance</title></head>\n<body>Check back in a minute.</body></html>\n";
        exit;
    case '500':
        http_response_code(500);
        header('Content-Type: text/html');
        echo "<b>Fatal error</b>: Uncaught PDOException: SQLSTATE[HY000] [2002] Connection refused in /var/www/users.php:12\x1b[0m";
        exit;
    default:
        foreach ($ids as $id) {
            $out[] = member($id);
        }
}
header('Content-Type: application/json; charset=utf-8');
echo json_encode($out);
