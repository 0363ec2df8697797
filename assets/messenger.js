/*!
 * pollchat messenger.js: the eStreamChat Messenger API on top of the pollchat
 * widget, so a site that followed eStreamChat's integration guide switches
 * by pointing its script tag here:
 *
 *   <script src="https://chat.example.com/messenger.js"></script>
 *   <script>Messenger.initialize("https://chat.example.com/", userId, timestamp, hash, 5000);</script>
 *
 * Chat requests then come as the widget's Accept/Reject dialog and
 * conversations open as widget windows. ES5 only; one global (Messenger).
 */
(function (window, document) {
  'use strict';

  if (window.Messenger && window.Messenger.pollchat) {
    return;
  }

  var self = document.currentScript || (function () {
    var s = document.getElementsByTagName('script'), i;
    for (i = s.length - 1; i >= 0; i--) {
      if (/\/messenger\.js(\?|#|$)/i.test(s[i].src || '')) { return s[i]; }
    }
    return null;
  }());

  // base is where this file came from: the pollchat server.
  function base() {
    var m = /^(https?:\/\/[^\/]+(?:\/[^?#]*)?)\/messenger\.js/i.exec((self && self.src) || '');
    return m ? m[1] : '';
  }

  function trimSlash(u) { return String(u || '').replace(/\/+$/, ''); }

  var waiting = [];
  var loading = false;

  // withWidget runs fn once window.Pollchat exists, loading widget.js from
  // the server when the page has not loaded it.
  function withWidget(server, fn) {
    var s, head;
    if (window.Pollchat && window.Pollchat.version) { return fn(window.Pollchat); }
    waiting.push(fn);
    if (loading) { return; }
    loading = true;
    s = document.createElement('script');
    // The built messenger.js knows the content hash of the built widget.js
    // (scripts/widget.sh writes it), and asks for the URL browsers may keep.
    s.src = server + '/widget.js' + (typeof POLLCHAT_WIDGET_HASH === 'string' ? '?v=' + POLLCHAT_WIDGET_HASH : '');
    s.async = true;
    s.onload = s.onreadystatechange = function () {
      var w = waiting, i;
      if (s.readyState && !/loaded|complete/.test(s.readyState)) { return; }
      s.onload = s.onreadystatechange = null;
      if (!window.Pollchat) { return; }
      waiting = [];
      for (i = 0; i < w.length; i++) { w[i](window.Pollchat); }
    };
    head = document.getElementsByTagName('head')[0] || document.documentElement;
    head.appendChild(s);
  }

  var server = '';

  var Messenger = {
    pollchat: true,

    // initialize starts the messenger for the logged-in user. chatHomeUrl is
    // used when this script's own address is unknown; updateOnlineFrequency
    // (ms) is accepted for compatibility: long-polling delivers at once.
    // options (optional, pollchat's own) go to Pollchat.init as they are.
    initialize: function (chatHomeUrl, userId, timestamp, hash, updateOnlineFrequency, options) {
      var o = {}, k;
      server = trimSlash(base() || chatHomeUrl);
      if (options) {
        for (k in options) {
          if (Object.prototype.hasOwnProperty.call(options, k)) { o[k] = options[k]; }
        }
      }
      o.server = server;
      o.id = String(userId);
      o.timestamp = String(timestamp);
      o.hash = String(hash);
      Messenger.updateOnlineFrequency = +updateOnlineFrequency || 0;
      withWidget(server, function (P) { P.init(o); });
      return Messenger;
    },

    // openChatWindow opens the conversation with a user (the eStreamChat
    // popup's job, done in the page).
    openChatWindow: function (targetUserId) {
      withWidget(server, function (P) { P.openDialog(String(targetUserId)); });
    },

    // sendChatRequest invites a user; they see Accept and Reject.
    sendChatRequest: function (targetUserId, message) {
      withWidget(server, function (P) { P.request(String(targetUserId), message); });
    },

    on: function (event, fn) {
      withWidget(server, function (P) { P.on(event, fn); });
    },

    stop: function () {
      if (window.Pollchat) { window.Pollchat.logout(); }
    }
  };

  window.Messenger = Messenger;
}(window, document));
