<?php namespace Pollchat\Chat\Updates;

use October\Rain\Database\Updates\Migration;

/**
 * Nothing to create; rolled back when the plugin is removed (October runs
 * down() of every update on uninstall), it deletes the plugin's settings
 * row, which holds the shared secret, the link secret and both passwords.
 */
class RemoveSettingsOnUninstall extends Migration
{
    /** The settings row's code (Settings::$settingsCode). */
    const SETTINGS_CODE = 'pollchat_chat_settings';

    public function up()
    {
    }

    public function down()
    {
        \Db::table('system_settings')->where('item', self::SETTINGS_CODE)->delete();
    }
}
