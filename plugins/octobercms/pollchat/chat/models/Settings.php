<?php namespace Pollchat\Chat\Models;

use Model;
use Pollchat\Chat\Classes\SettingsRules;

/**
 * pollchat's settings (Settings → Users → pollchat), stored by October's
 * SettingsModel behaviour; the form is settings/fields.yaml. Secrets are
 * password fields, which October renders empty (no reveal, unlike the
 * "sensitive" widget, whose reveal hands the secret to anyone with the
 * settings permission): left empty, the stored value is kept. The link
 * secret and the users-info password are generated on first use; the link
 * secret is shown to the admin, who copies it to pollchat's
 * auth.link_secret. See classes/SettingsRules.php.
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
        $this->link_secret = SettingsRules::generate();
        $this->notify_secret = SettingsRules::generate();
        $this->users_password = SettingsRules::generate();
    }

    /**
     * Keeps secrets left empty, fills in generated ones, and refuses a
     * non-http(s) server URL and short passwords (nothing is saved then).
     */
    public function beforeSave()
    {
        $new = [];
        foreach (array_keys(static::asArray()) as $key) {
            $new[$key] = isset($this->$key) ? $this->$key : '';
        }
        list($clean, $errors) = SettingsRules::clean($new, $this->storedValues());
        if ($errors) {
            throw new \ValidationException($errors);
        }
        foreach (['server_url', 'secret', 'api_password', 'users_password', 'link_secret', 'notify_secret', 'notify_link'] as $key) {
            $this->$key = $clean[$key];
        }
    }

    /**
     * The values in the database before this save.
     */
    protected function storedValues()
    {
        $v = $this->getOriginal('value');
        if (is_string($v)) {
            $v = json_decode($v, true);
        }
        return is_array($v) ? $v : [];
    }

    /**
     * The settings as a plain array for the classes in ../classes.
     */
    public static function asArray()
    {
        $keys = [
            'server_url', 'secret', 'link_secret', 'notify_secret', 'notify_link', 'scheme', 'api_login', 'api_password', 'users_login', 'users_password',
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
