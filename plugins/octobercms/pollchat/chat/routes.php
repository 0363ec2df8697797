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
