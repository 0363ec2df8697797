// Package plugins holds the tests of the PHP plugins for WordPress
// (wordpress/pollchat) and OctoberCMS (octobercms/pollchat/chat). The
// plugins themselves are PHP; these tests drive them with the real php-cli,
// a real WordPress on MariaDB and a running pollchat.
package plugins
