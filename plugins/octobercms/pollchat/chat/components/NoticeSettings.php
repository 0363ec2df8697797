<?php namespace Pollchat\Chat\Components;

use Cms\Classes\ComponentBase;

/**
 * The member's switch for missed-message mails, for the account page:
 * {% component 'pollchatNotices' %}. Opt-outs live in the plugin's table
 * pollchat_chat_notice_optouts (one row per member who turned mails off).
 */
class NoticeSettings extends ComponentBase
{
    /** The opt-out table. */
    const TABLE = 'pollchat_chat_notice_optouts';

    /** @var bool|null whether the member gets mails; null for guests. */
    public $mails;

    public function componentDetails()
    {
        return [
            'name' => 'pollchat.chat::lang.notice.component_name',
            'description' => 'pollchat.chat::lang.notice.component_description',
        ];
    }

    public function defineProperties()
    {
        return [];
    }

    public function onRun()
    {
        $me = ChatWidget::currentUser();
        $this->mails = $me ? !self::optedOut($me->id) : null;
    }

    /**
     * AJAX: saves the box (notice_mail ticked or not) for the logged-in
     * member only.
     */
    public function onSavePollchatNotices()
    {
        $me = ChatWidget::currentUser();
        if (!$me) {
            throw new \ApplicationException(trans('pollchat.chat::lang.notice.login_first'));
        }
        self::setMails($me->id, (bool) post('notice_mail'));
        $this->mails = !self::optedOut($me->id);
        return ['mails' => $this->mails];
    }

    public static function optedOut($userId)
    {
        return \Db::table(self::TABLE)->where('user_id', (int) $userId)->exists();
    }

    public static function setMails($userId, $on)
    {
        $q = \Db::table(self::TABLE)->where('user_id', (int) $userId);
        if ($on) {
            $q->delete();
        } elseif (!$q->exists()) {
            \Db::table(self::TABLE)->insert(['user_id' => (int) $userId]);
        }
    }
}
