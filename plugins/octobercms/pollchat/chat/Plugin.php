<?php namespace Pollchat\Chat;

use Pollchat\Chat\Classes\Invalidator;
use Pollchat\Chat\Classes\UsersInfo;
use Pollchat\Chat\Classes\WidgetConfig;
use Pollchat\Chat\Models\Settings;
use System\Classes\PluginBase;
use System\Classes\SettingsManager;

/**
 * pollchat for RainLab.User sites: the settings page, the chat widget
 * component, a "Chat with" Twig function, the users-info route and the
 * missed-message notice route (routes.php) with its mail and the members'
 * switch for it, cache invalidation when a member changes, and the backend's
 * "Chat moderation" entry that opens pollchat's console.
 */
class Plugin extends PluginBase
{
    /** Members are RainLab.User's. */
    public $require = ['RainLab.User'];

    public function pluginDetails()
    {
        return [
            'name' => 'pollchat.chat::lang.plugin.name',
            'description' => 'pollchat.chat::lang.plugin.description',
            'author' => 'pollchat',
            'icon' => 'icon-comments',
        ];
    }

    public function registerComponents()
    {
        return [
            \Pollchat\Chat\Components\ChatWidget::class => 'pollchatWidget',
            \Pollchat\Chat\Components\NoticeSettings::class => 'pollchatNotices',
        ];
    }

    public function registerPermissions()
    {
        return [
            'pollchat.chat.access_settings' => [
                'tab' => 'pollchat.chat::lang.plugin.name',
                'label' => 'pollchat.chat::lang.permissions.settings',
            ],
            'pollchat.chat.moderate' => [
                'tab' => 'pollchat.chat::lang.plugin.name',
                'label' => 'pollchat.chat::lang.permissions.moderate',
            ],
        ];
    }

    /**
     * Backend → Chat moderation (controllers/Moderation.php), for
     * administrators with pollchat.chat.moderate.
     */
    public function registerNavigation()
    {
        return [
            'moderation' => [
                'label' => 'pollchat.chat::lang.moderation.menu',
                'url' => \Backend::url('pollchat/chat/moderation'),
                'icon' => 'icon-gavel',
                'permissions' => ['pollchat.chat.moderate'],
                'order' => 500,
            ],
        ];
    }

    public function registerSettings()
    {
        return [
            'settings' => [
                'label' => 'pollchat.chat::lang.settings.label',
                'description' => 'pollchat.chat::lang.settings.description',
                'category' => SettingsManager::CATEGORY_USERS,
                'icon' => 'icon-comments',
                'class' => Settings::class,
                'order' => 600,
                'keywords' => 'chat messenger pollchat',
                'permissions' => ['pollchat.chat.access_settings'],
            ],
        ];
    }

    /**
     * The missed-message mail (views/mail/notice.htm), sent by the notice
     * route in routes.php.
     */
    public function registerMailTemplates()
    {
        return [
            'pollchat.chat::mail.notice',
        ];
    }

    /**
     * {{ pollchat_link(user.id, 'Chat with Ada') }} in a theme.
     */
    public function registerMarkupTags()
    {
        return [
            'functions' => [
                'pollchat_link' => [self::class, 'chatLink'],
            ],
        ];
    }

    /**
     * The "Chat with" link; empty for guests, for oneself, and while the
     * plugin is not configured. The widget component opens the dialog.
     */
    public static function chatLink($userId, $text = '')
    {
        $me = \Pollchat\Chat\Components\ChatWidget::currentUser();
        if (!$me || (string) $me->id === (string) $userId || !WidgetConfig::configured(Settings::asArray())) {
            return '';
        }
        if ((string) $text === '') {
            $target = \RainLab\User\Models\User::find((int) $userId);
            if (!$target) {
                return '';
            }
            $text = trans('pollchat.chat::lang.link.default', ['name' => UsersInfo::displayName($target)]);
        }
        $s = Settings::asArray();
        $html = WidgetConfig::link($userId, $text, WidgetConfig::popupUrl($s, $me->id, $userId));
        return class_exists(\Twig\Markup::class) ? new \Twig\Markup($html, 'UTF-8') : $html;
    }

    /**
     * Invalidate a member in pollchat's cache after a save that changed what
     * the chat shows, and after a delete.
     */
    public function boot()
    {
        \RainLab\User\Models\User::extend(function ($model) {
            $model->bindEvent('model.afterSave', function () use ($model) {
                $changed = method_exists($model, 'getChanges') ? array_keys($model->getChanges()) : array_keys($model->getDirty());
                if (Invalidator::relevant($changed)) {
                    self::invalidate($model->id);
                }
            });
            $model->bindEvent('model.afterDelete', function () use ($model) {
                self::invalidate($model->id);
            });
        });
    }

    /**
     * One invalidate call (at most 1 s; a failure is only logged).
     */
    public static function invalidate($userId)
    {
        $s = Settings::asArray();
        return Invalidator::send($s['server_url'], $s['api_login'], $s['api_password'], [(string) $userId], 1);
    }
}
