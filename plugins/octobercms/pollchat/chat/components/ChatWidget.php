<?php namespace Pollchat\Chat\Components;

use Cms\Classes\ComponentBase;
use Pollchat\Chat\Classes\WidgetConfig;
use Pollchat\Chat\Models\Settings;

/**
 * Adds the pollchat widget for the logged-in member: widget.js and
 * widget.css from the server through {% scripts %} / {% styles %}, and the
 * init call (default.htm) with the identity signed here. The theme must
 * load jQuery, as October's AJAX framework does.
 */
class ChatWidget extends ComponentBase
{
    /** @var string|null JSON for Pollchat.init, null for no widget. */
    public $initJson;

    public function componentDetails()
    {
        return [
            'name' => 'pollchat.chat::lang.component.name',
            'description' => 'pollchat.chat::lang.component.description',
        ];
    }

    public function defineProperties()
    {
        return [];
    }

    /**
     * The logged-in RainLab.User member, or null (RainLab.User 1.x/2.x have
     * their Auth facade; 3.x uses Laravel's).
     */
    public static function currentUser()
    {
        if (class_exists(\RainLab\User\Facades\Auth::class)) {
            return \RainLab\User\Facades\Auth::getUser();
        }
        return \Illuminate\Support\Facades\Auth::user();
    }

    public function onRun()
    {
        $user = self::currentUser();
        $s = Settings::asArray();
        if (!$user || !WidgetConfig::configured($s)) {
            return;
        }
        $codes = [];
        foreach ($user->groups as $g) {
            $codes[] = (string) $g->code;
        }
        if (!WidgetConfig::allowed($codes, $s)) {
            return;
        }
        // The page carries the member's signed identity, a bearer
        // credential: keep it out of shared caches, as the WordPress plugin does.
        if (isset($this->controller) && is_object($this->controller) && method_exists($this->controller, 'setResponseHeader')) {
            $this->controller->setResponseHeader('Cache-Control', 'private, no-store, no-cache, must-revalidate, max-age=0');
        }
        $server = rtrim($s['server_url'], '/');
        $this->addCss($server . '/widget.css');
        $this->addJs($server . '/widget.js');
        $avatar = method_exists($user, 'getAvatarThumb') ? (string) $user->getAvatarThumb(96) : '';
        $name = \Pollchat\Chat\Classes\UsersInfo::displayName($user);
        $config = WidgetConfig::build($s, (string) $user->id, $name, $avatar);
        $this->initJson = WidgetConfig::json($config);
    }
}
