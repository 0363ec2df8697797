/* pollchat moderation console: plain ES5, no framework, no WebSocket. It
 * polls the backend API (docs/protocol.md, "Moderation console") every few
 * seconds, authenticated by the moderator session cookie (with its CSRF
 * header on writes) or by the browser's Basic auth. Every text from the
 * server goes in with textContent, never as HTML. */
(function () {
  'use strict';

  var cfgEl = document.getElementById('pollchat-config');
  var cfg = {};
  try { cfg = JSON.parse(cfgEl.textContent) || {}; } catch (e) { cfg = {}; }

  var EVERY = 2500;          // ms between refreshes
  var FEED_KEEP = 200;       // messages kept in the live feed
  var caps = {};
  var users = {};            // user_id -> user, as the overview gives them
  var lastId = {};           // room -> newest message id seen in the feed
  var shownReports = {};     // report id -> its list item

  function $(id) { return document.getElementById(id); }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.appendChild(document.createTextNode(String(text))); }
    return e;
  }

  function clear(e) { while (e.firstChild) { e.removeChild(e.firstChild); } }

  function status(text, bad) {
    var s = $('status');
    s.textContent = text;
    s.className = 'status' + (bad ? ' error' : '');
  }

  function call(method, path, body, done) {
    var x = new XMLHttpRequest();
    x.open(method, path, true);
    x.setRequestHeader('Accept', 'application/json');
    if (method !== 'GET') {
      x.setRequestHeader('Content-Type', 'application/json');
      if (cfg.csrf) { x.setRequestHeader('X-Pollchat-Csrf', cfg.csrf); }
    }
    x.onreadystatechange = function () {
      if (x.readyState !== 4) { return; }
      var data = null;
      try { data = JSON.parse(x.responseText); } catch (e) { data = null; }
      if (x.status >= 200 && x.status < 300) {
        status('Up to date ' + new Date().toLocaleTimeString());
        done(null, data);
        return;
      }
      var msg = data && data.error ? data.error.message : 'HTTP ' + x.status;
      if (x.status === 401) { msg = 'Signed out: open the console again from the site.'; }
      status(msg, true);
      done(msg, data);
    };
    x.send(body ? JSON.stringify(body) : null);
  }

  function name(id) {
    var u = users[id];
    return u && u.name ? u.name + ' (' + id + ')' : String(id);
  }

  function time(ts) {
    var d = new Date(ts);
    return isNaN(d.getTime()) ? '' : d.toLocaleString();
  }

  function messageLine(m, tag) {
    var li = el(tag || 'li', 'msg');
    li.setAttribute('data-id', m.id);
    li.appendChild(el('span', 'meta', time(m.ts)));
    li.appendChild(el('span', 'meta', m.room ? '#' + m.room : '→ ' + name(m.to)));
    li.appendChild(el('strong', '', m.from ? name(m.from) : 'system'));
    li.appendChild(document.createTextNode(': '));
    if (m.deleted) {
      li.appendChild(el('span', 'deleted', 'deleted'));
    } else {
      li.appendChild(el('span', 'text', m.text));
    }
    if (caps.delete_message && !m.deleted) {
      li.appendChild(actionButton('Delete', 'DELETE', '/api/v1/messages/' + encodeURIComponent(m.id), null));
    }
    return li;
  }

  // actionButton is a moderation action the server offers (capabilities).
  function actionButton(label, method, path, body) {
    var b = el('button', 'action', label);
    b.type = 'button';
    b.onclick = function () {
      var reason = window.prompt(label + ': reason (optional)', '');
      if (reason === null) { return; }
      var payload = body || {};
      payload.reason = reason;
      call(method, path, payload, function () { refresh(); });
    };
    return b;
  }

  // banButton asks how long (a duration such as 1h or 30m, or seconds;
  // empty: for ever) and why.
  function banButton(id) {
    var b = el('button', 'action ban', 'Ban');
    b.type = 'button';
    b.onclick = function () {
      var d = window.prompt('Ban ' + name(id) + ' for how long? (e.g. 30m, 24h; empty: for ever)', '');
      if (d === null) { return; }
      var reason = window.prompt('Ban: reason (optional)', '');
      if (reason === null) { return; }
      var payload = { reason: reason };
      d = d.replace(/\s+/g, '');
      if (d) { payload.duration = /^\d+$/.test(d) ? +d : d; }
      call('POST', '/api/v1/users/' + encodeURIComponent(id) + '/ban', payload, function () { refresh(); });
    };
    return b;
  }

  // muteButton asks for how many minutes (chat's mute; offered with the
  // API login, or when the console moderator's site role may mute).
  function muteButton(id, room) {
    var b = el('button', 'action mute', 'Mute in #' + room);
    b.type = 'button';
    b.onclick = function () {
      var mins = window.prompt('Mute ' + name(id) + ' in #' + room + ' for how many minutes?', '10');
      if (mins === null) { return; }
      var reason = window.prompt('Mute: reason (optional)', '');
      if (reason === null) { return; }
      call('POST', '/api/v1/rooms/' + encodeURIComponent(room) + '/mute', { user_id: id, minutes: +mins, reason: reason }, function () { refresh(); });
    };
    return b;
  }

  function bans() {
    if (!caps.ban) { return; }
    call('GET', '/api/v1/bans', null, function (err, d) {
      if (err || !d) { return; }
      var ul = $('bans');
      clear(ul);
      $('bans-count').textContent = d.bans.length;
      for (var i = 0; i < d.bans.length; i++) {
        var b = d.bans[i];
        var li = el('li', 'ban');
        li.appendChild(el('strong', '', name(b.user_id)));
        li.appendChild(el('span', 'meta', ' ' + (b.until ? 'until ' + time(b.until) : 'for ever') + ' by ' + b.by + (b.reason ? ': ' + b.reason : '')));
        li.appendChild(actionButton('Unban', 'DELETE', '/api/v1/users/' + encodeURIComponent(b.user_id) + '/ban', null));
        ul.appendChild(li);
      }
    });
  }

  function overview() {
    call('GET', '/api/v1/admin/overview', null, function (err, d) {
      if (err || !d) { return; }
      var id;
      for (id in d.users) { if (d.users.hasOwnProperty(id)) { users[id] = d.users[id]; } }
      $('online-count').textContent = d.online.count;
      var ul = $('online');
      clear(ul);
      for (var i = 0; i < d.online.users.length; i++) {
        var li = el('li', 'user');
        var a = el('a', '', name(d.online.users[i]));
        a.href = '#';
        a.setAttribute('data-user', d.online.users[i]);
        a.onclick = openUser;
        li.appendChild(a);
        ul.appendChild(li);
      }
      var rooms = $('rooms');
      clear(rooms);
      for (i = 0; i < d.rooms.length; i++) {
        var r = d.rooms[i];
        var rl = el('li', 'room');
        rl.appendChild(el('strong', '', '#' + r.name));
        rl.appendChild(el('span', 'meta', ' ' + r.count + ' member' + (r.count === 1 ? '' : 's') + (r.created && r.created.private ? ', private' : '')));
        var names = [];
        for (var j = 0; j < (r.members || []).length; j++) { names.push(name(r.members[j])); }
        if (names.length) { rl.appendChild(el('div', 'members', names.join(', '))); }
        if (caps.clear_room) { rl.appendChild(actionButton('Clear history', 'POST', '/api/v1/rooms/' + encodeURIComponent(r.name) + '/clear', null)); }
        rooms.appendChild(rl);
        feedRoom(r.name);
      }
    });
  }

  function feedRoom(room) {
    call('GET', '/api/v1/messages?room=' + encodeURIComponent(room) + '&limit=50', null, function (err, d) {
      if (err || !d) { return; }
      var feed = $('feed');
      var last = lastId[room] || 0;
      for (var i = 0; i < d.messages.length; i++) {
        var m = d.messages[i];
        if (m.id > last) {
          feed.appendChild(messageLine(m));
          lastId[room] = m.id;
        }
      }
      while (feed.childNodes.length > FEED_KEEP) { feed.removeChild(feed.firstChild); }
    });
  }

  function openUser(ev) {
    if (ev && ev.preventDefault) { ev.preventDefault(); }
    var id = this.getAttribute('data-user');
    $('user-id').value = id;
    showUser(id);
    return false;
  }

  function showUser(id) {
    var box = $('user-view');
    clear(box);
    box.appendChild(el('p', 'meta', 'Loading ' + id + '…'));
    call('GET', '/api/v1/admin/users/' + encodeURIComponent(id), null, function (err, d) {
      clear(box);
      if (err || !d) { box.appendChild(el('p', 'error', err || 'failed')); return; }
      var k;
      for (k in d.users) { if (d.users.hasOwnProperty(k)) { users[k] = d.users[k]; } }
      box.appendChild(el('p', '', name(id) + (d.online ? ' · online' : ' · offline') + (d.rooms && d.rooms.length ? ' · in #' + d.rooms.join(', #') : '')));
      if (caps.ban) {
        box.appendChild(banButton(id));
        box.appendChild(actionButton('Unban', 'DELETE', '/api/v1/users/' + encodeURIComponent(id) + '/ban', null));
      }
      for (var r = 0; d.rooms && r < d.rooms.length; r++) {
        var rp = '/api/v1/rooms/' + encodeURIComponent(d.rooms[r]);
        if (caps.mute) {
          box.appendChild(muteButton(id, d.rooms[r]));
          box.appendChild(actionButton('Unmute in #' + d.rooms[r], 'POST', rp + '/unmute', { user_id: id }));
        }
        if (caps.kick) { box.appendChild(actionButton('Kick from #' + d.rooms[r], 'POST', rp + '/kick', { user_id: id })); }
      }
      var ul = el('ul', 'list');
      for (var i = 0; i < d.conversations.length; i++) {
        var c = d.conversations[i];
        var li = el('li', 'conv');
        li.appendChild(el('strong', '', c.room ? '#' + c.room : 'with ' + name(c.with)));
        li.appendChild(el('span', 'meta', ' ' + c.unread + ' unread'));
        if (c.with) { li.appendChild(conversationButton(id, c.with, li)); }
        if (c.last_message) { li.appendChild(messageLine(c.last_message, 'div')); }
        ul.appendChild(li);
      }
      if (!d.conversations.length) { ul.appendChild(el('li', 'meta', 'No conversations.')); }
      box.appendChild(ul);
    });
  }

  function conversationButton(user, peer, li) {
    var b = el('button', '', 'Recent messages');
    b.type = 'button';
    b.onclick = function () {
      b.disabled = true;
      call('GET', '/api/v1/messages?user_id=' + encodeURIComponent(user) + '&with=' + encodeURIComponent(peer) + '&limit=30', null, function (err, d) {
        if (err || !d) { return; }
        var ol = el('ol', 'feed');
        for (var i = 0; i < d.messages.length; i++) { ol.appendChild(messageLine(d.messages[i])); }
        li.appendChild(ol);
      });
    };
    return b;
  }

  function reports() {
    call('GET', '/api/v1/reports?status=open&limit=100', null, function (err, d) {
      if (err || !d) { return; }
      $('reports-count').textContent = d.reports.length;
      var ul = $('reports');
      var open = {};
      for (var i = 0; i < d.reports.length; i++) {
        var r = d.reports[i];
        open[r.id] = true;
        if (!shownReports[r.id]) {
          shownReports[r.id] = reportItem(r);
          ul.appendChild(shownReports[r.id]);
        }
      }
      for (var id in shownReports) {
        if (shownReports.hasOwnProperty(id) && !open[id] && !shownReports[id].getAttribute('data-done')) {
          ul.removeChild(shownReports[id]);
          delete shownReports[id];
        }
      }
      if (!d.reports.length && !ul.firstChild) { /* nothing open */ }
    });
  }

  function reportItem(r) {
    var li = el('li', 'report');
    li.setAttribute('data-report', r.id);
    li.appendChild(el('div', '', 'Report #' + r.id + ' by ' + name(r.reporter) + ', ' + time(r.at) + (r.room ? ' in #' + r.room : '')));
    li.appendChild(el('div', '', 'Reason: ' + r.reason));
    var snap = el('div', 'msg reported');
    snap.appendChild(el('strong', '', name(r.message.from)));
    snap.appendChild(document.createTextNode(': '));
    snap.appendChild(el('span', 'text', r.message.text || '(no text)'));
    li.appendChild(snap);
    var ctx = el('ol', 'context');
    li.appendChild(ctx);
    var q = r.room ? 'room=' + encodeURIComponent(r.room) : (r.between ? 'user_id=' + encodeURIComponent(r.between[0]) + '&with=' + encodeURIComponent(r.between[1]) : '');
    if (q) {
      call('GET', '/api/v1/messages?' + q + '&before=' + (r.message_id + 4) + '&limit=7', null, function (err, d) {
        if (err || !d) { return; }
        for (var i = 0; i < d.messages.length; i++) {
          var line = messageLine(d.messages[i]);
          if (d.messages[i].id === r.message_id) { line.className += ' reported'; }
          ctx.appendChild(line);
        }
      });
    }
    if (caps.resolve_report) {
      var form = el('form', 'inline');
      var label = el('label', '', 'Note');
      var input = el('input');
      input.id = 'note-' + r.id;
      input.maxLength = 500;
      label.htmlFor = input.id;
      var b = el('button', 'resolve', 'Resolve');
      b.type = 'submit';
      form.appendChild(label);
      form.appendChild(input);
      form.appendChild(b);
      form.onsubmit = function (ev) {
        if (ev && ev.preventDefault) { ev.preventDefault(); }
        b.disabled = true;
        call('POST', '/api/v1/reports/' + r.id + '/resolve', { note: input.value }, function (err2) {
          if (err2) { b.disabled = false; return; }
          li.setAttribute('data-done', '1');
          li.className += ' resolved';
          clear(form);
          form.appendChild(el('span', '', 'Resolved.'));
          audit();
        });
        return false;
      };
      li.appendChild(form);
    }
    return li;
  }

  function audit() {
    call('GET', '/api/v1/audit?limit=50', null, function (err, d) {
      if (err || !d) { return; }
      var tb = $('audit');
      clear(tb);
      for (var i = 0; i < d.entries.length; i++) {
        var e = d.entries[i];
        var tr = el('tr', 'entry');
        tr.appendChild(el('td', '', time(e.at)));
        var dn = e.details && e.details.name;
        tr.appendChild(el('td', '', e.who === 'api' ? 'api' : (dn ? dn + ' (' + e.who + ')' : name(e.who))));
        tr.appendChild(el('td', 'action', e.action));
        var t = e.target || {};
        var parts = [];
        if (t.user) { parts.push('user ' + name(t.user)); }
        if (t.room) { parts.push('#' + t.room); }
        if (t.message) { parts.push('message ' + t.message); }
        tr.appendChild(el('td', '', parts.join(', ')));
        tr.appendChild(el('td', '', e.reason || ''));
        tb.appendChild(tr);
      }
    });
  }

  function refresh() {
    overview();
    reports();
    bans();
    audit();
  }

  $('user-form').onsubmit = function (ev) {
    if (ev && ev.preventDefault) { ev.preventDefault(); }
    var id = $('user-id').value.replace(/^\s+|\s+$/g, '');
    if (id) { showUser(id); }
    return false;
  };

  call('GET', '/api/v1/admin/capabilities', null, function (err, d) {
    if (d && d.capabilities) { caps = d.capabilities; }
    $('who').textContent = cfg.who === 'api' || !cfg.who ? 'signed in with the API credentials' : 'moderator ' + (cfg.name ? cfg.name + ' (' + cfg.who + ')' : cfg.who);
    refresh();
    window.setInterval(refresh, EVERY);
  });
}());
