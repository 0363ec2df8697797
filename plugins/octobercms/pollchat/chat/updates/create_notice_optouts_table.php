<?php namespace Pollchat\Chat\Updates;

use October\Rain\Database\Updates\Migration;

/**
 * The members who turned missed-message mails off; dropped on uninstall.
 */
class CreateNoticeOptoutsTable extends Migration
{
    const TABLE = 'pollchat_chat_notice_optouts';

    public function up()
    {
        \Schema::create(self::TABLE, function ($table) {
            $table->integer('user_id')->unsigned()->primary();
        });
    }

    public function down()
    {
        \Schema::dropIfExists(self::TABLE);
    }
}
