<?php namespace Pollchat\Chat\Models;

use Model;

/**
 * pollchat's settings (Settings → Users → pollchat), stored by October's
 * SettingsModel behaviour; the form is settings/fields.yaml. Secrets use the
 * "sensitive" widget, which keeps the stored value when the field is left
 * as it is and never writes it into the page.
 */
class Settings extends Model
{
    public $implement = ['System.Behaviors.SettingsModel'];

    public $settingsCode = 'pollchat_chat_settings';

    public $settingsFields = 'fields.yaml';

    /**
     * Defaults for a new install.
     */
    public function initSettingsData()
    {
        $this->scheme = 'hash';
        $this->users_login = 'pollchat';
        $this->position = 'bottom-right';
    }

    /**
     * The settings as a plain array for the classes in ../classes.
     */
    public static function asArray()
    {
        $keys = [
            'server_url', 'secret', 'scheme', 'api_login', 'api_password', 'users_login', 'users_password',
            'position', 'font_family', 'language', 'groups', 'admin_groups', 'mod_groups', 'profile_url',
        ];
        foreach (['header', 'headerButton', 'body', 'launcher', 'messageSent', 'messageReceived'] as $c) {
            $keys[] = 'colour_' . $c;
        }
        $out = [];
        foreach ($keys as $key) {
            $out[$key] = static::get($key, '');
        }
        return $out;
    }
}
