<?php
/*
 * Small stand-ins for the OctoberCMS and RainLab.User classes the plugin
 * touches, so php-cli can load Plugin.php, the component, the settings
 * model and routes.php without October (which these machines cannot
 * install). They record what the plugin does; they implement no October
 * behaviour beyond that.
 */

namespace System\Classes {
    class PluginBase
    {
    }

    class SettingsManager
    {
        const CATEGORY_USERS = 'system::lang.system.categories.users';
    }
}

namespace Backend\Classes {
    /** The backend controller base: what an action page sets. */
    class Controller
    {
        public $pageTitle;

        public function __construct()
        {
        }
    }
}

namespace Backend\Models {
    /** A backend administrator: attributes and the permissions held. */
    class User
    {
        public $id;
        public $login;
        public $email;
        public $first_name;
        public $last_name;
        public $permissions = [];

        public function __construct(array $attrs)
        {
            foreach ($attrs as $k => $v) {
                $this->$k = $v;
            }
        }

        public function hasAccess($permission)
        {
            return in_array($permission, $this->permissions, true);
        }
    }
}

namespace Cms\Classes {
    /** The CMS controller: records response headers (ResponseMaker). */
    class Controller
    {
        public $headers = [];

        public function setResponseHeader($key, $value)
        {
            $this->headers[$key] = $value;
        }
    }

    class ComponentBase
    {
        public $addedJs = [];
        public $addedCss = [];
        public $controller;

        public function __construct()
        {
            $this->controller = new Controller();
        }

        public function addJs($url)
        {
            $this->addedJs[] = $url;
        }

        public function addCss($url)
        {
            $this->addedCss[] = $url;
        }
    }
}

namespace RainLab\User\Facades {
    class Auth
    {
        public static $user;

        public static function getUser()
        {
            return self::$user;
        }
    }
}

namespace RainLab\User\Models {
    /** A member: attributes as public properties, events as closures. */
    class User
    {
        /** @var User[] every member, by id */
        public static $all = [];
        /** @var \Closure[] what User::extend() was given */
        public static $extenders = [];

        public $id;
        public $name;
        public $surname;
        public $first_name;
        public $last_name;
        public $username;
        public $email;
        public $groups = [];
        public $avatar = '';
        public $changes = [];
        private $events = [];

        public function __construct(array $attrs)
        {
            foreach ($attrs as $k => $v) {
                $this->$k = $v;
            }
            foreach (self::$extenders as $fn) {
                $fn($this);
            }
        }

        public static function extend(\Closure $fn)
        {
            self::$extenders[] = $fn;
        }

        public function bindEvent($event, \Closure $fn)
        {
            $this->events[$event][] = $fn;
        }

        public function fire($event)
        {
            foreach (isset($this->events[$event]) ? $this->events[$event] : [] as $fn) {
                $fn();
            }
        }

        public function getChanges()
        {
            return $this->changes;
        }

        public function getAvatarThumb($size)
        {
            return $this->avatar === '' ? '' : $this->avatar . '?s=' . $size;
        }

        public static function find($id)
        {
            return isset(self::$all[$id]) ? self::$all[$id] : null;
        }

        public static function with($relation)
        {
            return new UserQuery();
        }
    }

    class UserQuery
    {
        private $ids = [];

        public function whereIn($column, array $ids)
        {
            $this->ids = $ids;
            return $this;
        }

        public function get()
        {
            $out = [];
            foreach (User::$all as $id => $u) {
                if (in_array($id, $this->ids)) {
                    $out[] = $u;
                }
            }
            return $out;
        }
    }

    class UserGroup
    {
        public $code;

        public function __construct($code)
        {
            $this->code = $code;
        }
    }
}

namespace October\Rain\Database\Updates {
    class Migration
    {
    }
}

namespace {
    /** October's base model; the settings behaviour's static get(). */
    #[\AllowDynamicProperties]
    class Model
    {
        public static $settings = [];
        /** @var array raw attributes as loaded (getOriginal) */
        public $original = [];

        public function getOriginal($key)
        {
            return array_key_exists($key, $this->original) ? $this->original[$key] : null;
        }

        public static function get($key, $default = null)
        {
            return array_key_exists($key, static::$settings) ? static::$settings[$key] : $default;
        }
    }

    /** October's ValidationException: field => message. */
    class ValidationException extends \Exception
    {
        public $fields;

        public function __construct(array $fields)
        {
            $this->fields = $fields;
            parent::__construct(implode(' ', $fields));
        }
    }

    /** The query builder: rows in memory; records deletes. */
    class Db
    {
        public static $deleted = [];
        /** @var array table => list of rows */
        public static $rows = [];

        public static function table($table)
        {
            return new DbQuery($table);
        }
    }

    class DbQuery
    {
        private $table;
        private $where = [];

        public function __construct($table)
        {
            $this->table = $table;
        }

        public function where($column, $value)
        {
            $this->where[$column] = $value;
            return $this;
        }

        public function delete()
        {
            Db::$deleted[] = ['table' => $this->table, 'where' => $this->where];
            $n = 0;
            foreach (isset(Db::$rows[$this->table]) ? Db::$rows[$this->table] : [] as $i => $row) {
                if ($this->matches($row)) {
                    unset(Db::$rows[$this->table][$i]);
                    $n++;
                }
            }
            return $n;
        }

        public function exists()
        {
            foreach (isset(Db::$rows[$this->table]) ? Db::$rows[$this->table] : [] as $row) {
                if ($this->matches($row)) {
                    return true;
                }
            }
            return false;
        }

        public function insert(array $row)
        {
            Db::$rows[$this->table][] = $row;
            return true;
        }

        private function matches(array $row)
        {
            foreach ($this->where as $k => $v) {
                if (!isset($row[$k]) || $row[$k] != $v) {
                    return false;
                }
            }
            return true;
        }
    }

    class Route
    {
        public static $get = [];
        public static $post = [];

        public static function get($path, \Closure $fn)
        {
            self::$get[$path] = $fn;
        }

        public static function post($path, \Closure $fn)
        {
            self::$post[$path] = $fn;
        }
    }

    /** The request: its raw body. */
    class Request
    {
        public static $content = '';

        public static function getContent()
        {
            return self::$content;
        }
    }

    /** The cache: add() stores only a missing (or expired) key. */
    class Cache
    {
        /** @var array key => expiry (unix seconds) */
        public static $store = [];

        public static function add($key, $value, \DateTimeInterface $until)
        {
            if (isset(self::$store[$key]) && self::$store[$key] > time()) {
                return false;
            }
            self::$store[$key] = $until->getTimestamp();
            return true;
        }

        public static function forget($key)
        {
            unset(self::$store[$key]);
        }
    }

    /** The mailer: records what the plugin sends; throws while $fail. */
    class Mail
    {
        public static $sent = [];
        public static $fail = false;

        public static function send($view, array $vars, \Closure $build)
        {
            if (self::$fail) {
                throw new \RuntimeException('mailer down');
            }
            $m = new MailMessage();
            $build($m);
            self::$sent[] = ['view' => $view, 'vars' => $vars, 'to' => $m->to, 'name' => $m->name, 'subject' => $m->subject];
        }
    }

    class MailMessage
    {
        public $to;
        public $name;
        public $subject;

        public function to($address, $name = null)
        {
            $this->to = $address;
            $this->name = $name;
            return $this;
        }

        public function subject($subject)
        {
            $this->subject = $subject;
            return $this;
        }
    }

    class ApplicationException extends \Exception
    {
    }

    /** The backend's URL helper. */
    class Backend
    {
        public static function url($path)
        {
            return 'https://site.example/backend/' . ltrim($path, '/');
        }
    }

    /** Records the backend menu context a controller sets. */
    class BackendMenu
    {
        public static $context = [];

        public static function setContext($owner, $code)
        {
            self::$context = [$owner, $code];
        }
    }

    /** The signed-in backend administrator. */
    class BackendAuth
    {
        public static $user;

        public static function getUser()
        {
            return self::$user;
        }
    }

    /** A redirect answer: its target. */
    class Redirect
    {
        public $target;

        public static function to($url)
        {
            $r = new self();
            $r->target = $url;
            return $r;
        }
    }

    function url($path = '/')
    {
        return 'https://site.example/' . ltrim($path, '/');
    }

    function post($key)
    {
        return isset($_POST[$key]) ? $_POST[$key] : null;
    }

    /** Laravel's choice: "one|many" by the number. */
    function trans_choice($key, $number, array $replace = [])
    {
        $parts = explode('|', trans($key));
        $line = $number == 1 ? $parts[0] : $parts[count($parts) - 1];
        foreach ($replace as $k => $v) {
            $line = str_replace(':' . $k, $v, $line);
        }
        return $line;
    }

    class Input
    {
        public static function get($key, $default = null)
        {
            return isset($_GET[$key]) ? $_GET[$key] : $default;
        }
    }

    class Response
    {
        public static function make($body, $status, array $headers)
        {
            return ['status' => $status, 'headers' => $headers, 'body' => $body];
        }
    }

    class App
    {
        public static function getLocale()
        {
            return 'en';
        }
    }

    function trans($key, array $replace = [])
    {
        $lines = require __DIR__ . '/../../octobercms/pollchat/chat/lang/en/lang.php';
        $line = $lines;
        foreach (explode('.', substr($key, strpos($key, '::lang.') + 7)) as $part) {
            $line = $line[$part];
        }
        foreach ($replace as $k => $v) {
            $line = str_replace(':' . $k, $v, $line);
        }
        return $line;
    }

    $plugin = __DIR__ . '/../../octobercms/pollchat/chat';
    foreach (['classes/Signer.php', 'classes/SettingsRules.php', 'updates/remove_settings_on_uninstall.php', 'classes/BasicAuth.php', 'classes/UsersInfo.php', 'classes/Invalidator.php', 'classes/WidgetConfig.php', 'classes/Notice.php', 'classes/ModeratorSession.php', 'models/Settings.php', 'components/ChatWidget.php', 'components/NoticeSettings.php', 'controllers/Moderation.php', 'Plugin.php', 'routes.php'] as $f) {
        require $plugin . '/' . $f;
    }
}
