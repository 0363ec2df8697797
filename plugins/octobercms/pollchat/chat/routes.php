<?php

use Pollchat\Chat\Classes\UsersInfo;
use Pollchat\Chat\Models\Settings;

/*
 * The users-info route pollchat's [users.http] asks (docs/protocol.md section 7):
 * GET /pollchat/users-info?user_ids=1,2,3 with Basic auth.
 */
Route::get('pollchat/users-info', function () {
    list($status, $headers, $body) = UsersInfo::respond(
        $_SERVER,
        Input::get('user_ids'),
        Settings::asArray(),
        function (array $ids) {
            return \RainLab\User\Models\User::with('groups')->whereIn('id', $ids)->get();
        }
    );
    return Response::make($body, $status, $headers);
});

/*
 * Missed-message notices from pollchat (docs/protocol.md, "Missed-message
 * notices"): POST /pollchat/notice, signed with the notify secret; mails
 * the member with the plugin's mail template unless they opted out.
 */
Route::post('pollchat/notice', function () {
    list($status, $headers, $body) = \Pollchat\Chat\Classes\Notice::respond(
        $_SERVER,
        \Request::getContent(),
        Settings::asArray() + ['home' => url('/')],
        [
            'user' => function ($id) {
                return \RainLab\User\Models\User::find((int) $id);
            },
            'optedOut' => function ($user) {
                return \Pollchat\Chat\Components\NoticeSettings::optedOut($user->id);
            },
            // Cache::add stores only when the key is missing: one caller wins.
            'claim' => function ($key, $seconds) {
                return Cache::add($key, 1, (new DateTime())->modify('+' . (int) $seconds . ' seconds'));
            },
            'release' => function ($key) {
                Cache::forget($key);
            },
            'choice' => function ($key, $number, array $replace) {
                return trans_choice($key, $number, $replace);
            },
            'mail' => function ($user, array $vars) {
                try {
                    Mail::send('pollchat.chat::mail.notice', $vars, function ($message) use ($user, $vars) {
                        $message->to((string) $user->email, $vars['name']);
                        $message->subject($vars['subject']);
                    });
                    return true;
                } catch (\Exception $e) {
                    error_log('pollchat: notice mail failed: ' . $e->getMessage());
                    return false;
                }
            },
        ],
        time()
    );
    return Response::make($body, $status, $headers);
});
