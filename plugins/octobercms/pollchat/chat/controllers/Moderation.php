<?php namespace Pollchat\Chat\Controllers;

use Backend\Classes\Controller;
use Pollchat\Chat\Classes\ModeratorSession;
use Pollchat\Chat\Models\Settings;

/**
 * Backend → Chat moderation: a page with one button. The button's AJAX
 * handler (October checks its CSRF token) asks pollchat for a moderator
 * session server to server and redirects the browser to the console; the
 * API password stays here.
 */
class Moderation extends Controller
{
    /** Checked by October before any action, and again by the handler. */
    public $requiredPermissions = ['pollchat.chat.moderate'];

    public function __construct()
    {
        parent::__construct();
        \BackendMenu::setContext('Pollchat.Chat', 'moderation');
    }

    public function index()
    {
        $this->pageTitle = 'pollchat.chat::lang.moderation.title';
    }

    /**
     * The button: a redirect to pollchat's console, or an error message.
     */
    public function index_onOpen()
    {
        $user = \BackendAuth::getUser();
        if (!$user || !$user->hasAccess('pollchat.chat.moderate')) {
            throw new \ApplicationException(trans('pollchat.chat::lang.moderation.denied'));
        }
        $s = Settings::asArray();
        $r = ModeratorSession::request(
            $s['server_url'],
            $s['api_login'],
            $s['api_password'],
            ModeratorSession::ID_PREFIX . $user->id,
            ModeratorSession::name($user)
        );
        if ($r['status'] !== 'ok') {
            throw new \ApplicationException($r['message']);
        }
        return \Redirect::to($r['url']);
    }
}
