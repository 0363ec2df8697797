/*!
 * pollchat widget: a drop-in chat for any site, over JSONP long-polling.
 *
 *   <script src="https://chat.example.com/widget.js"></script>
 *   <script>Pollchat.init({id: "6", timestamp: "261122100000", hash: "…"});</script>
 *
 * ES5 only (no let/const, arrows, template strings, Promise or fetch), one
 * global (Pollchat), everything else inside this closure. Uses the page's
 * jQuery (1.7+) and loads one when the page has none. Text from the server is
 * always inserted with .text() and attributes with .attr(): never as HTML.
 */
(function (window, document) {
  'use strict';

  if (window.Pollchat && window.Pollchat.version) {
    return; // loaded twice: keep the first
  }

  var VERSION = '1.0.0';
  // CSS_VERSION goes into the stylesheet's URL. scripts/widget.sh writes the
  // content hash of the built widget.css in here, so the served widget asks
  // for /widget.css?v=<hash>, which browsers may keep for a year; the
  // readable source asks by the widget's version.
  var CSS_VERSION = typeof POLLCHAT_CSS_HASH === 'string' ? POLLCHAT_CSS_HASH : VERSION;
  var MIN_JQUERY = [1, 7];
  var DEFAULT_JQUERY = 'https://code.jquery.com/jquery-3.7.1.min.js';
  var OLD_JQUERY = 'https://code.jquery.com/jquery-1.12.4.min.js';
  var ROOT_ID = 'pollchat-root';

  // ---------------------------------------------------------------- helpers

  var hasOwn = Object.prototype.hasOwnProperty;

  function own(o, k) { return o != null && hasOwn.call(o, k); }

  function each(o, fn) {
    var k;
    for (k in o) {
      if (own(o, k)) { fn(k, o[k]); }
    }
  }

  function mix(dst) {
    var i, src;
    for (i = 1; i < arguments.length; i++) {
      src = arguments[i];
      if (src) {
        each(src, function (k, v) { if (v !== undefined) { dst[k] = v; } });
      }
    }
    return dst;
  }

  function now() { return new Date().getTime(); }

  function log() {
    var c = window.console;
    if (c && c.log) {
      try { c.log.apply(c, arguments); } catch (e) { c.log(Array.prototype.join.call(arguments, ' ')); }
    }
  }

  function warn(msg) {
    var c = window.console;
    if (c && c.warn) { c.warn(msg); } else { log(msg); }
  }

  function str(v) { return v == null ? '' : String(v); }

  function trim(s) { return str(s).replace(/^\s+|\s+$/g, ''); }

  function fmt(s, vars) {
    return str(s).replace(/\{(\w+)\}/g, function (m, k) { return own(vars, k) ? str(vars[k]) : m; });
  }

  function addListener(target, type, fn) {
    if (target.addEventListener) { target.addEventListener(type, fn, false); } else if (target.attachEvent) { target.attachEvent('on' + type, fn); }
  }

  function removeListener(target, type, fn) {
    if (target.removeEventListener) { target.removeEventListener(type, fn, false); } else if (target.detachEvent) { target.detachEvent('on' + type, fn); }
  }

  function randomId() {
    return 'c' + now().toString(36) + Math.random().toString(36).slice(2, 10) + Math.random().toString(36).slice(2, 6);
  }

  // backoff returns the delay before retry number n (1-based): doubling from
  // 1 s up to 30 s, with jitter so that many clients do not return at once.
  function backoff(n) {
    var top = Math.min(30000, 1000 * Math.pow(2, Math.max(0, n - 1)));
    return Math.max(1000, Math.round(top * (0.5 + Math.random() * 0.5)));
  }

  function pageHidden() {
    if (typeof document.hidden === 'boolean') { return document.hidden; }
    if (typeof document.hasFocus === 'function') { return !document.hasFocus(); }
    return false;
  }

  // parseISO reads "2026-11-22T10:00:00Z" (or with fractions/offset) even
  // where Date.parse cannot (IE8).
  function parseISO(s) {
    var m = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d)(?::(\d\d)(?:\.(\d+))?)?(Z|([+-])(\d\d):?(\d\d))?$/.exec(str(s));
    var t;
    if (!m) { return null; }
    t = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0), +((m[7] || '0') + '00').slice(0, 3));
    if (m[9]) { t -= (m[9] === '-' ? -1 : 1) * ((+m[10]) * 60 + (+m[11])) * 60000; }
    return new Date(t);
  }

  function pad2(n) { return (n < 10 ? '0' : '') + n; }

  var locale = ''; // the visitor's language, for times and days

  function clock(ts) {
    var d = parseISO(ts) || new Date();
    if (locale && d.toLocaleTimeString) {
      try { return d.toLocaleTimeString(locale, { hour: '2-digit', minute: '2-digit' }); } catch (e) { /* old browser */ }
    }
    return pad2(d.getHours()) + ':' + pad2(d.getMinutes());
  }

  function dayLabel(d) {
    var o = { weekday: 'long', day: 'numeric', month: 'long' };
    if (d.getFullYear() !== new Date().getFullYear()) { o.year = 'numeric'; }
    try { return d.toLocaleDateString(locale || undefined, o); } catch (e) { return d.getFullYear() + '-' + pad2(d.getMonth() + 1) + '-' + pad2(d.getDate()); }
  }

  function dayOf(d) { return d.getFullYear() * 10000 + d.getMonth() * 100 + d.getDate(); }

  var EMOJI = ['😀', '😂', '😊', '😍', '😉', '😎', '🤔', '😢', '😮', '😡', '👍', '👎', '👏', '🙏', '🙌', '💪', '❤️', '🎉', '🔥', '✨', '☕', '📚', '✅', '❓'];

  // base64url decoding for the JWT payload (exp); no atob on old browsers.
  function b64urlDecode(s) {
    var chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    var out = '', bits = 0, acc = 0, i, v;
    s = str(s).replace(/[=\s]/g, '').replace(/\+/g, '-').replace(/\//g, '_');
    for (i = 0; i < s.length; i++) {
      v = chars.indexOf(s.charAt(i));
      if (v < 0) { return null; }
      acc = (acc << 6) | v;
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        out += String.fromCharCode((acc >> bits) & 255);
      }
    }
    try { return decodeURIComponent(escape(out)); } catch (e) { return out; }
  }

  function tokenExpiry(token) {
    var parts = str(token).split('.'), json, claims;
    if (parts.length !== 3) { return 0; }
    json = b64urlDecode(parts[1]);
    if (!json || !window.JSON) { return 0; }
    try { claims = window.JSON.parse(json); } catch (e) { return 0; }
    return claims && typeof claims.exp === 'number' ? claims.exp * 1000 : 0;
  }

  function safeURL(u) {
    u = trim(u);
    return (/^(https?:)?\/\//i.test(u) || /^\/[^\/]/.test(u)) ? u : '';
  }

  // httpURL is u when it is an absolute http or https URL, else ''.
  function httpURL(u) {
    u = trim(u);
    return /^https?:\/\/[^\s\/?#]+/i.test(u) && !/[\s<>"]/.test(u) ? u : '';
  }

  function safeCSS(v, font) {
    v = trim(v);
    if (!v) { return ''; }
    return (font ? /^[\w\s,.'"-]+$/ : /^[#(),.%\w\s-]+$/).test(v) ? v : '';
  }

  // readableOn picks dark or light text for a background colour.
  function readableOn(colour) {
    var c = trim(colour).toLowerCase(), m, r, g, b;
    if ((m = /^#([0-9a-f])([0-9a-f])([0-9a-f])$/.exec(c))) {
      r = parseInt(m[1] + m[1], 16); g = parseInt(m[2] + m[2], 16); b = parseInt(m[3] + m[3], 16);
    } else if ((m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/.exec(c))) {
      r = parseInt(m[1], 16); g = parseInt(m[2], 16); b = parseInt(m[3], 16);
    } else if ((m = /^rgba?\(\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)/.exec(c))) {
      r = +m[1]; g = +m[2]; b = +m[3];
    } else if (c === 'white') {
      r = g = b = 255;
    } else if (c === 'black') {
      r = g = b = 0;
    } else {
      return '';
    }
    return (0.299 * r + 0.587 * g + 0.114 * b) / 255 > 0.62 ? '#1d2433' : '#ffffff';
  }

  // colours reads a layout colour: a string (the background) or an object
  // {background, color}. Without a color, auto picks one that reads on the
  // background. Values outside colour syntax are dropped.
  function colours(v, auto) {
    var c = { bg: '', fg: '' };
    if (v && typeof v === 'object') {
      c.bg = safeCSS(v.background);
      c.fg = safeCSS(v.color);
    } else {
      c.bg = safeCSS(v);
    }
    if (auto && c.bg && !c.fg) { c.fg = readableOn(c.bg); }
    return c;
  }

  // ------------------------------------------------------------------ i18n

  var I18N = {
    en: {
      title: 'Chat',
      people: 'People',
      rooms: 'Rooms',
      online: 'Online',
      offline: 'Offline',
      away: 'Not online',
      recent: 'Conversations',
      onlineNow: 'Online now',
      nobody: 'Nobody else is online right now. Conversations show up here.',
      noRooms: 'No rooms on this site.',
      signInToWrite: 'Sign in to write.',
      privateRoom: 'Private room',
      placeholder: 'Write a message…',
      roomPlaceholder: 'Message #{room}',
      send: 'Send',
      attach: 'Attach a file or image',
      uploading: 'Uploading {name}…',
      cancelUpload: 'Cancel',
      uploadFailed: 'The file could not be sent.',
      download: 'Download',
      fileTooLarge: 'The file is larger than {size}.',
      loadEarlier: 'Load earlier messages',
      loading: 'Loading…',
      start: 'This is the beginning of your conversation.',
      typing: '{name} is typing…',
      seen: 'Seen',
      sending: 'Sending…',
      failed: 'Not sent.',
      connecting: 'Connecting…',
      reconnecting: 'Reconnecting…',
      retryNow: 'Retry now',
      authFailed: 'Chat sign-in failed. Reload the page to try again.',
      requestTitle: 'Chat request',
      requestFrom: '{name} wants to chat with you',
      accept: 'Accept',
      reject: 'Reject',
      invite: 'Invite to chat',
      inviteText: 'Hi! Do you have a minute to chat?',
      requestSent: 'Chat request sent to {name}.',
      accepted: '{name} accepted your chat request.',
      rejected: '{name} declined your chat request.',
      members: 'Members',
      memberCount: '{n} members',
      memberOne: '1 member',
      notices: 'Notifications',
      join: 'Join',
      roleAdmin: 'admin',
      roleMod: 'mod',
      roleOwner: 'owner',
      minimise: 'Minimise',
      close: 'Close',
      openChat: 'Open chat',
      closeChat: 'Close chat',
      emoji: 'Emoji',
      search: 'Search people',
      noMatch: 'Nobody by that name.',
      block: 'Block',
      unblock: 'Unblock',
      blocked: 'You blocked {name}. You will not get their messages.',
      unblocked: 'You unblocked {name}.',
      retry: 'Retry',
      cancel: 'Cancel',
      notSent: 'Not sent.',
      stuck: 'Still sending…',
      you: 'You',
      muted: 'You are muted in this room until {time}.',
      modHint: 'Moderators: /mute NAME MINUTES, /unmute NAME',
      deleted: 'message deleted',
      roomCleared: 'A moderator cleared this room\'s history.',
      banned: 'You are banned from the chat until {time}.',
      bannedForever: 'You are banned from the chat.',
      unbanned: 'Your ban has been lifted.',
      kicked: 'A moderator removed you from {room}.',
      newMessage: 'New message from {name}',
      newMessages: '({n}) {title}',
      tooLong: 'Messages can be at most {n} characters.',
      error: 'Something went wrong: {message}',
      err_RATE_LIMITED: 'You are sending too fast. Wait a moment.',
      err_MUTED: 'You are muted in this room.',
      err_FORBIDDEN: 'You are not allowed to do that.',
      err_TOO_LONG: 'That message is too long.',
      err_NOT_FOUND: 'Not found.',
      report: 'Report',
      reportMsg: 'Report message from {name}',
      reportTitle: 'Report message',
      reportReason: 'Why are you reporting it?',
      reportHint: 'The moderators will see the message and your reason.',
      reportEmpty: 'Write a reason first.',
      reportSent: 'Thank you. The moderators will look at it.',
      reportLimit: 'You reported too many messages today.',
      reportForbidden: 'You cannot report this message.',
      reportGone: 'That message is no longer there.',
      reportFailed: 'The report was not sent. Try again.',
      reported: 'Reported',
      searching: 'Searching…',
      dirLimited: 'Too many searches right now. Showing people you know.'
    },
    de: {
      title: 'Chat',
      people: 'Personen',
      rooms: 'Räume',
      online: 'Online',
      offline: 'Offline',
      away: 'Nicht online',
      recent: 'Unterhaltungen',
      onlineNow: 'Jetzt online',
      nobody: 'Gerade ist niemand sonst online. Unterhaltungen erscheinen hier.',
      noRooms: 'Diese Seite hat keine Räume.',
      signInToWrite: 'Melden Sie sich an, um zu schreiben.',
      privateRoom: 'Privater Raum',
      placeholder: 'Nachricht schreiben…',
      roomPlaceholder: 'Nachricht an #{room}',
      send: 'Senden',
      attach: 'Datei oder Bild anhängen',
      uploading: '{name} wird hochgeladen…',
      cancelUpload: 'Abbrechen',
      uploadFailed: 'Die Datei konnte nicht gesendet werden.',
      download: 'Herunterladen',
      fileTooLarge: 'Die Datei ist größer als {size}.',
      loadEarlier: 'Ältere Nachrichten laden',
      loading: 'Wird geladen…',
      start: 'Hier beginnt eure Unterhaltung.',
      typing: '{name} schreibt…',
      seen: 'Gelesen',
      sending: 'Wird gesendet…',
      failed: 'Nicht gesendet.',
      connecting: 'Verbinde…',
      reconnecting: 'Verbindung wird wiederhergestellt…',
      retryNow: 'Jetzt versuchen',
      authFailed: 'Anmeldung am Chat fehlgeschlagen. Seite neu laden.',
      requestTitle: 'Chat-Anfrage',
      requestFrom: '{name} möchte mit dir chatten',
      accept: 'Annehmen',
      reject: 'Ablehnen',
      invite: 'Zum Chat einladen',
      inviteText: 'Hallo! Hast du kurz Zeit zum Chatten?',
      requestSent: 'Chat-Anfrage an {name} gesendet.',
      accepted: '{name} hat deine Chat-Anfrage angenommen.',
      rejected: '{name} hat deine Chat-Anfrage abgelehnt.',
      members: 'Mitglieder',
      memberCount: '{n} Mitglieder',
      memberOne: '1 Mitglied',
      notices: 'Benachrichtigungen',
      join: 'Beitreten',
      roleAdmin: 'Admin',
      roleMod: 'Mod',
      roleOwner: 'Inhaber',
      minimise: 'Minimieren',
      close: 'Schließen',
      openChat: 'Chat öffnen',
      closeChat: 'Chat schließen',
      emoji: 'Emoji',
      search: 'Personen suchen',
      noMatch: 'Niemand mit diesem Namen.',
      block: 'Blockieren',
      unblock: 'Blockierung aufheben',
      blocked: 'Du hast {name} blockiert. Du bekommst keine Nachrichten mehr von dieser Person.',
      unblocked: 'Du hast die Blockierung von {name} aufgehoben.',
      retry: 'Erneut senden',
      cancel: 'Abbrechen',
      notSent: 'Nicht gesendet.',
      stuck: 'Wird noch gesendet…',
      you: 'Du',
      muted: 'Du bist in diesem Raum bis {time} stummgeschaltet.',
      modHint: 'Moderation: /mute NAME MINUTEN, /unmute NAME',
      newMessage: 'Neue Nachricht von {name}',
      newMessages: '({n}) {title}',
      tooLong: 'Nachrichten dürfen höchstens {n} Zeichen lang sein.',
      error: 'Etwas ist schiefgelaufen: {message}',
      err_RATE_LIMITED: 'Du sendest zu schnell. Warte einen Moment.',
      err_MUTED: 'Du bist in diesem Raum stummgeschaltet.',
      err_FORBIDDEN: 'Das darfst du nicht.',
      err_TOO_LONG: 'Die Nachricht ist zu lang.',
      err_NOT_FOUND: 'Nicht gefunden.',
      report: 'Melden',
      reportMsg: 'Nachricht von {name} melden',
      reportTitle: 'Nachricht melden',
      reportReason: 'Warum meldest du sie?',
      reportHint: 'Die Moderatoren sehen die Nachricht und deinen Grund.',
      reportEmpty: 'Gib zuerst einen Grund an.',
      reportSent: 'Danke. Die Moderatoren sehen sich das an.',
      reportLimit: 'Du hast heute zu viele Nachrichten gemeldet.',
      reportForbidden: 'Diese Nachricht kannst du nicht melden.',
      reportGone: 'Diese Nachricht gibt es nicht mehr.',
      reportFailed: 'Die Meldung wurde nicht gesendet. Versuch es noch einmal.',
      reported: 'Gemeldet',
      searching: 'Suche läuft…',
      dirLimited: 'Gerade zu viele Suchen. Du siehst die Personen, die du kennst.',
      deleted: 'Nachricht gelöscht',
      roomCleared: 'Ein Moderator hat den Verlauf dieses Raums gelöscht.',
      banned: 'Sie sind bis {time} vom Chat ausgeschlossen.',
      bannedForever: 'Sie sind vom Chat ausgeschlossen.',
      unbanned: 'Ihr Ausschluss wurde aufgehoben.',
      kicked: 'Ein Moderator hat Sie aus {room} entfernt.'
    },
    fr: {
      title: 'Discussion',
      people: 'Personnes',
      rooms: 'Salons',
      online: 'En ligne',
      offline: 'Hors ligne',
      away: 'Pas en ligne',
      recent: 'Conversations',
      onlineNow: 'En ligne maintenant',
      nobody: 'Personne d’autre n’est en ligne. Vos conversations apparaîtront ici.',
      noRooms: 'Ce site n’a pas de salon.',
      signInToWrite: 'Connectez-vous pour écrire.',
      privateRoom: 'Salon privé',
      placeholder: 'Écrire un message…',
      roomPlaceholder: 'Message dans #{room}',
      send: 'Envoyer',
      attach: 'Joindre un fichier ou une image',
      uploading: 'Envoi de {name}…',
      cancelUpload: 'Annuler',
      uploadFailed: 'Le fichier n’a pas pu être envoyé.',
      download: 'Télécharger',
      fileTooLarge: 'Le fichier dépasse {size}.',
      loadEarlier: 'Charger les messages précédents',
      loading: 'Chargement…',
      start: 'Début de votre conversation.',
      typing: '{name} écrit…',
      seen: 'Vu',
      sending: 'Envoi…',
      failed: 'Non envoyé.',
      connecting: 'Connexion…',
      reconnecting: 'Reconnexion…',
      retryNow: 'Réessayer',
      authFailed: 'Échec de la connexion au chat. Rechargez la page.',
      requestTitle: 'Demande de discussion',
      requestFrom: '{name} souhaite discuter avec vous',
      accept: 'Accepter',
      reject: 'Refuser',
      invite: 'Inviter à discuter',
      inviteText: 'Bonjour ! Avez-vous un moment pour discuter ?',
      requestSent: 'Demande envoyée à {name}.',
      accepted: '{name} a accepté votre demande.',
      rejected: '{name} a refusé votre demande.',
      members: 'Membres',
      memberCount: '{n} membres',
      memberOne: '1 membre',
      notices: 'Notifications',
      join: 'Rejoindre',
      roleAdmin: 'admin',
      roleMod: 'modo',
      roleOwner: 'propriétaire',
      minimise: 'Réduire',
      close: 'Fermer',
      openChat: 'Ouvrir la discussion',
      closeChat: 'Fermer la discussion',
      emoji: 'Émoji',
      search: 'Rechercher des personnes',
      noMatch: 'Personne de ce nom.',
      block: 'Bloquer',
      unblock: 'Débloquer',
      blocked: 'Vous avez bloqué {name}. Vous ne recevrez plus ses messages.',
      unblocked: 'Vous avez débloqué {name}.',
      retry: 'Réessayer',
      cancel: 'Annuler',
      notSent: 'Non envoyé.',
      stuck: 'Envoi en cours…',
      you: 'Vous',
      muted: 'Vous êtes réduit au silence dans ce salon jusqu’à {time}.',
      modHint: 'Modération : /mute NOM MINUTES, /unmute NOM',
      newMessage: 'Nouveau message de {name}',
      newMessages: '({n}) {title}',
      tooLong: 'Un message fait au plus {n} caractères.',
      error: 'Une erreur est survenue : {message}',
      err_RATE_LIMITED: 'Vous envoyez trop vite. Patientez un instant.',
      err_MUTED: 'Vous êtes réduit au silence dans ce salon.',
      err_FORBIDDEN: 'Vous n’avez pas le droit de faire cela.',
      err_TOO_LONG: 'Ce message est trop long.',
      err_NOT_FOUND: 'Introuvable.',
      report: 'Signaler',
      reportMsg: 'Signaler le message de {name}',
      reportTitle: 'Signaler le message',
      reportReason: 'Pourquoi le signalez-vous ?',
      reportHint: 'Les modérateurs verront le message et votre raison.',
      reportEmpty: 'Indiquez d’abord une raison.',
      reportSent: 'Merci. Les modérateurs vont l’examiner.',
      reportLimit: 'Vous avez signalé trop de messages aujourd’hui.',
      reportForbidden: 'Vous ne pouvez pas signaler ce message.',
      reportGone: 'Ce message n’existe plus.',
      reportFailed: 'Le signalement n’a pas été envoyé. Réessayez.',
      reported: 'Signalé',
      searching: 'Recherche…',
      dirLimited: 'Trop de recherches en ce moment. Voici les personnes que vous connaissez.',
      deleted: 'message supprimé',
      roomCleared: 'Un modérateur a effacé l’historique de ce salon.',
      banned: 'Vous êtes exclu du chat jusqu’au {time}.',
      bannedForever: 'Vous êtes exclu du chat.',
      unbanned: 'Votre exclusion a été levée.',
      kicked: 'Un modérateur vous a retiré de {room}.'
    },
    it: {
      title: 'Chat',
      people: 'Persone',
      rooms: 'Stanze',
      online: 'Online',
      offline: 'Offline',
      away: 'Non in linea',
      recent: 'Conversazioni',
      onlineNow: 'Online ora',
      nobody: 'Al momento non c’è nessun altro online. Le conversazioni compaiono qui.',
      noRooms: 'Questo sito non ha stanze.',
      signInToWrite: 'Accedi per scrivere.',
      privateRoom: 'Stanza privata',
      placeholder: 'Scrivi un messaggio…',
      roomPlaceholder: 'Messaggio in #{room}',
      send: 'Invia',
      attach: 'Allega un file o un’immagine',
      uploading: 'Caricamento di {name}…',
      cancelUpload: 'Annulla',
      uploadFailed: 'Impossibile inviare il file.',
      download: 'Scarica',
      fileTooLarge: 'Il file supera {size}.',
      loadEarlier: 'Carica i messaggi precedenti',
      loading: 'Caricamento…',
      start: 'Qui inizia la vostra conversazione.',
      typing: '{name} sta scrivendo…',
      seen: 'Letto',
      sending: 'Invio in corso…',
      failed: 'Non inviato.',
      connecting: 'Connessione…',
      reconnecting: 'Riconnessione…',
      retryNow: 'Riprova ora',
      authFailed: 'Accesso alla chat non riuscito. Ricarica la pagina.',
      requestTitle: 'Richiesta di chat',
      requestFrom: '{name} vuole chattare con te',
      accept: 'Accetta',
      reject: 'Rifiuta',
      invite: 'Invita in chat',
      inviteText: 'Ciao! Hai un minuto per chattare?',
      requestSent: 'Richiesta di chat inviata a {name}.',
      accepted: '{name} ha accettato la tua richiesta di chat.',
      rejected: '{name} ha rifiutato la tua richiesta di chat.',
      members: 'Membri',
      memberCount: '{n} membri',
      memberOne: '1 membro',
      notices: 'Notifiche',
      join: 'Entra',
      roleAdmin: 'admin',
      roleMod: 'mod',
      roleOwner: 'proprietario',
      minimise: 'Riduci',
      close: 'Chiudi',
      openChat: 'Apri la chat',
      closeChat: 'Chiudi la chat',
      emoji: 'Emoji',
      search: 'Cerca persone',
      noMatch: 'Nessuno con questo nome.',
      block: 'Blocca',
      unblock: 'Sblocca',
      blocked: 'Hai bloccato {name}. Non riceverai i suoi messaggi.',
      unblocked: 'Hai sbloccato {name}.',
      retry: 'Riprova',
      cancel: 'Annulla',
      notSent: 'Non inviato.',
      stuck: 'Invio ancora in corso…',
      you: 'Tu',
      muted: 'Sei silenziato in questa stanza fino alle {time}.',
      modHint: 'Moderatori: /mute NOME MINUTI, /unmute NOME',
      newMessage: 'Nuovo messaggio da {name}',
      newMessages: '({n}) {title}',
      tooLong: 'I messaggi possono avere al massimo {n} caratteri.',
      error: 'Qualcosa è andato storto: {message}',
      err_RATE_LIMITED: 'Stai inviando troppo in fretta. Aspetta un momento.',
      err_MUTED: 'Sei silenziato in questa stanza.',
      err_FORBIDDEN: 'Non hai il permesso di farlo.',
      err_TOO_LONG: 'Il messaggio è troppo lungo.',
      err_NOT_FOUND: 'Non trovato.',
      report: 'Segnala',
      reportMsg: 'Segnala il messaggio di {name}',
      reportTitle: 'Segnala messaggio',
      reportReason: 'Perché lo segnali?',
      reportHint: 'I moderatori vedranno il messaggio e il tuo motivo.',
      reportEmpty: 'Scrivi prima un motivo.',
      reportSent: 'Grazie. I moderatori lo esamineranno.',
      reportLimit: 'Oggi hai segnalato troppi messaggi.',
      reportForbidden: 'Non puoi segnalare questo messaggio.',
      reportGone: 'Questo messaggio non c’è più.',
      reportFailed: 'La segnalazione non è stata inviata. Riprova.',
      reported: 'Segnalato',
      searching: 'Ricerca…',
      dirLimited: 'Troppe ricerche in questo momento. Ecco le persone che conosci.',
      deleted: 'messaggio eliminato',
      roomCleared: 'Un moderatore ha cancellato la cronologia di questa stanza.',
      banned: 'Sei escluso dalla chat fino a {time}.',
      bannedForever: 'Sei escluso dalla chat.',
      unbanned: 'La tua esclusione è stata revocata.',
      kicked: 'Un moderatore ti ha rimosso da {room}.'
    },
    ar: {
      title: 'الدردشة',
      people: 'الأشخاص',
      rooms: 'الغرف',
      online: 'متصل',
      offline: 'غير متصل',
      away: 'غير متصل الآن',
      recent: 'المحادثات',
      onlineNow: 'متصلون الآن',
      nobody: 'لا أحد غيرك متصل الآن. ستظهر محادثاتك هنا.',
      noRooms: 'لا توجد غرف في هذا الموقع.',
      placeholder: 'اكتب رسالة…',
      roomPlaceholder: 'رسالة إلى #{room}',
      send: 'إرسال',
      attach: 'إرفاق ملف أو صورة',
      uploading: 'جارٍ رفع {name}…',
      cancelUpload: 'إلغاء',
      uploadFailed: 'تعذّر إرسال الملف.',
      download: 'تنزيل',
      fileTooLarge: 'الملف أكبر من {size}.',
      loadEarlier: 'تحميل الرسائل الأقدم',
      loading: 'جارٍ التحميل…',
      start: 'هذه بداية محادثتكما.',
      typing: '{name} يكتب…',
      seen: 'تمت القراءة',
      sending: 'جارٍ الإرسال…',
      failed: 'لم تُرسل.',
      connecting: 'جارٍ الاتصال…',
      reconnecting: 'جارٍ إعادة الاتصال…',
      retryNow: 'أعد المحاولة الآن',
      authFailed: 'فشل تسجيل الدخول إلى الدردشة. أعد تحميل الصفحة.',
      requestTitle: 'طلب دردشة',
      requestFrom: '{name} يريد الدردشة معك',
      accept: 'قبول',
      reject: 'رفض',
      invite: 'دعوة إلى الدردشة',
      inviteText: 'مرحبًا! هل لديك دقيقة للدردشة؟',
      requestSent: 'أُرسل طلب الدردشة إلى {name}.',
      accepted: 'قبل {name} طلب الدردشة.',
      rejected: 'رفض {name} طلب الدردشة.',
      members: 'الأعضاء',
      memberCount: '{n} أعضاء',
      memberOne: 'عضو واحد',
      notices: 'الإشعارات',
      join: 'انضمام',
      roleAdmin: 'مدير',
      roleMod: 'مشرف',
      roleOwner: 'المالك',
      minimise: 'تصغير',
      close: 'إغلاق',
      openChat: 'افتح الدردشة',
      closeChat: 'أغلق الدردشة',
      emoji: 'رموز تعبيرية',
      search: 'ابحث عن أشخاص',
      noMatch: 'لا أحد بهذا الاسم.',
      block: 'حظر',
      unblock: 'إلغاء الحظر',
      blocked: 'حظرت {name}. لن تصلك رسائله.',
      unblocked: 'ألغيت حظر {name}.',
      retry: 'أعد الإرسال',
      cancel: 'إلغاء',
      notSent: 'لم تُرسل.',
      stuck: 'ما زال الإرسال جاريًا…',
      you: 'أنت',
      muted: 'أنت مكتوم في هذه الغرفة حتى {time}.',
      modHint: 'للمشرفين: /mute الاسم الدقائق، /unmute الاسم',
      newMessage: 'رسالة جديدة من {name}',
      newMessages: '({n}) {title}',
      tooLong: 'لا تتجاوز الرسالة {n} حرفًا.',
      error: 'حدث خطأ: {message}',
      err_RATE_LIMITED: 'أنت ترسل بسرعة كبيرة. انتظر قليلًا.',
      err_MUTED: 'أنت مكتوم في هذه الغرفة.',
      err_FORBIDDEN: 'لا يُسمح لك بذلك.',
      err_TOO_LONG: 'الرسالة طويلة جدًا.',
      err_NOT_FOUND: 'غير موجود.',
      report: 'إبلاغ',
      reportMsg: 'الإبلاغ عن رسالة من {name}',
      reportTitle: 'الإبلاغ عن رسالة',
      reportReason: 'لماذا تبلغ عنها؟',
      reportHint: 'سيرى المشرفون الرسالة وسببك.',
      reportEmpty: 'اكتب سببًا أولًا.',
      reportSent: 'شكرًا. سيراجعها المشرفون.',
      reportLimit: 'لقد أبلغت عن رسائل كثيرة جدًا اليوم.',
      reportForbidden: 'لا يمكنك الإبلاغ عن هذه الرسالة.',
      reportGone: 'لم تعد هذه الرسالة موجودة.',
      reportFailed: 'لم يُرسل البلاغ. حاول مرة أخرى.',
      reported: 'تم الإبلاغ',
      searching: 'جارٍ البحث…',
      dirLimited: 'عمليات بحث كثيرة الآن. نعرض الأشخاص الذين تعرفهم.',
      signInToWrite: 'سجّل الدخول لتكتب.',
      privateRoom: 'غرفة خاصة',
      deleted: 'رسالة محذوفة',
      roomCleared: 'مسح أحد المشرفين سجل هذه الغرفة.',
      banned: 'أنت محظور من الدردشة حتى {time}.',
      bannedForever: 'أنت محظور من الدردشة.',
      unbanned: 'تم رفع الحظر عنك.',
      kicked: 'أزالك أحد المشرفين من {room}.'
    },
    he: {
      title: 'צ׳אט',
      people: 'אנשים',
      rooms: 'חדרים',
      online: 'מחובר',
      offline: 'לא מחובר',
      away: 'לא מחובר כעת',
      recent: 'שיחות',
      onlineNow: 'מחוברים עכשיו',
      nobody: 'אף אחד אחר לא מחובר כרגע. השיחות שלך יופיעו כאן.',
      noRooms: 'אין חדרים באתר הזה.',
      placeholder: 'כתבו הודעה…',
      roomPlaceholder: 'הודעה ל-#{room}',
      send: 'שליחה',
      attach: 'צירוף קובץ או תמונה',
      uploading: 'מעלה את {name}…',
      cancelUpload: 'ביטול',
      uploadFailed: 'לא ניתן היה לשלוח את הקובץ.',
      download: 'הורדה',
      fileTooLarge: 'הקובץ גדול מ-{size}.',
      loadEarlier: 'טעינת הודעות קודמות',
      loading: 'טוען…',
      start: 'כאן מתחילה השיחה שלכם.',
      typing: '{name} מקליד/ה…',
      seen: 'נקרא',
      sending: 'שולח…',
      failed: 'לא נשלח.',
      connecting: 'מתחבר…',
      reconnecting: 'מתחבר מחדש…',
      retryNow: 'נסו שוב עכשיו',
      authFailed: 'הכניסה לצ׳אט נכשלה. טענו את הדף מחדש.',
      requestTitle: 'בקשת צ׳אט',
      requestFrom: '{name} רוצה לשוחח איתך',
      accept: 'אישור',
      reject: 'דחייה',
      invite: 'הזמנה לצ׳אט',
      inviteText: 'היי! יש לך דקה לשיחה?',
      requestSent: 'בקשת צ׳אט נשלחה אל {name}.',
      accepted: '{name} אישר/ה את בקשת הצ׳אט.',
      rejected: '{name} דחה/תה את בקשת הצ׳אט.',
      members: 'חברים',
      memberCount: '{n} חברים',
      memberOne: 'חבר אחד',
      notices: 'התראות',
      join: 'הצטרפות',
      roleAdmin: 'מנהל',
      roleMod: 'מפקח',
      roleOwner: 'בעלים',
      minimise: 'מזעור',
      close: 'סגירה',
      openChat: 'פתיחת הצ׳אט',
      closeChat: 'סגירת הצ׳אט',
      emoji: 'אימוג׳י',
      search: 'חיפוש אנשים',
      noMatch: 'אין אף אחד בשם הזה.',
      block: 'חסימה',
      unblock: 'ביטול חסימה',
      blocked: 'חסמת את {name}. ההודעות שלו/ה לא יגיעו אלייך.',
      unblocked: 'ביטלת את החסימה של {name}.',
      retry: 'שליחה חוזרת',
      cancel: 'ביטול',
      notSent: 'לא נשלח.',
      stuck: 'עדיין שולח…',
      you: 'את/ה',
      muted: 'הושתקת בחדר הזה עד {time}.',
      modHint: 'למפקחים: /mute שם דקות, /unmute שם',
      newMessage: 'הודעה חדשה מ-{name}',
      newMessages: '({n}) {title}',
      tooLong: 'הודעה יכולה להכיל עד {n} תווים.',
      error: 'משהו השתבש: {message}',
      err_RATE_LIMITED: 'את/ה שולח/ת מהר מדי. המתינו רגע.',
      err_MUTED: 'הושתקת בחדר הזה.',
      err_FORBIDDEN: 'אין לך הרשאה לעשות זאת.',
      err_TOO_LONG: 'ההודעה ארוכה מדי.',
      err_NOT_FOUND: 'לא נמצא.',
      report: 'דיווח',
      reportMsg: 'דיווח על הודעה מאת {name}',
      reportTitle: 'דיווח על הודעה',
      reportReason: 'למה את/ה מדווח/ת עליה?',
      reportHint: 'המנהלים יראו את ההודעה ואת הסיבה שלך.',
      reportEmpty: 'כתבו קודם סיבה.',
      reportSent: 'תודה. המנהלים יבדקו את זה.',
      reportLimit: 'דיווחת על יותר מדי הודעות היום.',
      reportForbidden: 'אי אפשר לדווח על ההודעה הזו.',
      reportGone: 'ההודעה הזו כבר לא קיימת.',
      reportFailed: 'הדיווח לא נשלח. נסו שוב.',
      reported: 'דווח',
      searching: 'מחפש…',
      dirLimited: 'יותר מדי חיפושים כרגע. מוצגים אנשים שאת/ה מכיר/ה.',
      signInToWrite: 'יש להתחבר כדי לכתוב.',
      privateRoom: 'חדר פרטי',
      deleted: 'ההודעה נמחקה',
      roomCleared: 'מנחה מחק את היסטוריית החדר.',
      banned: 'נחסמת מהצ׳אט עד {time}.',
      bannedForever: 'נחסמת מהצ׳אט.',
      unbanned: 'החסימה שלך הוסרה.',
      kicked: 'מנחה הסיר אותך מ{room}.'
    }
  };

  var RTL_LANGS = { ar: 1, he: 1, fa: 1, ur: 1, yi: 1 };

  // ------------------------------------------------------------ icons (static)

  var ICONS = {
    clip: '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M16.5 6.5v10a4.5 4.5 0 0 1-9 0V5a3 3 0 0 1 6 0v10.5a1.5 1.5 0 0 1-3 0V6.5H9v9a3 3 0 0 0 6 0V5a4.5 4.5 0 0 0-9 0v11.5a6 6 0 0 0 12 0v-10z"/></svg>',
    chat: '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M12 3C6.5 3 2 6.9 2 11.7c0 2.6 1.3 4.9 3.4 6.5L4.6 21.4c-.1.4.3.7.7.5l3.8-1.9c.9.2 1.9.3 2.9.3 5.5 0 10-3.9 10-8.7S17.5 3 12 3z"/></svg>',
    close: '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M18.3 5.7a1 1 0 0 0-1.4 0L12 10.6 7.1 5.7a1 1 0 1 0-1.4 1.4l4.9 4.9-4.9 4.9a1 1 0 1 0 1.4 1.4l4.9-4.9 4.9 4.9a1 1 0 0 0 1.4-1.4L13.4 12l4.9-4.9a1 1 0 0 0 0-1.4z"/></svg>',
    minus: '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M5 11h14a1 1 0 1 1 0 2H5a1 1 0 1 1 0-2z"/></svg>',
    send: '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M3.4 20.4l17.4-7.5a1 1 0 0 0 0-1.8L3.4 3.6a.9.9 0 0 0-1.3 1l1.6 6.1 9.3 1.3-9.3 1.3-1.6 6.1a.9.9 0 0 0 1.3 1z"/></svg>',
    members: '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M16 11a3.5 3.5 0 1 0 0-7 3.5 3.5 0 0 0 0 7zm-8 0a3.5 3.5 0 1 0 0-7 3.5 3.5 0 0 0 0 7zm0 2c-2.7 0-8 1.3-8 4v2.5h16V17c0-2.7-5.3-4-8-4zm8 0c-.3 0-.7 0-1.1.1 1.3.9 2.1 2.2 2.1 3.9v2.5h7V17c0-2.7-5.3-4-8-4z"/></svg>',
    invite: '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M20 2H4a2 2 0 0 0-2 2v18l4-4h14a2 2 0 0 0 2-2V4a2 2 0 0 0-2-2zm-3 9h-4v4h-2v-4H7V9h4V5h2v4h4v2z"/></svg>',
    bell: '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22zm7-6V11a7 7 0 0 0-5.5-6.84V3.5a1.5 1.5 0 0 0-3 0v.66A7 7 0 0 0 5 11v5l-1.7 1.7A1 1 0 0 0 4 19.4h16a1 1 0 0 0 .7-1.7L19 16z"/></svg>',
    smile: '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm0 18a8 8 0 1 1 0-16 8 8 0 0 1 0 16zm-3.5-9a1.5 1.5 0 1 0 0-3 1.5 1.5 0 0 0 0 3zm7 0a1.5 1.5 0 1 0 0-3 1.5 1.5 0 0 0 0 3zM12 17.5c2.3 0 4.3-1.4 5.1-3.5H6.9c.8 2.1 2.8 3.5 5.1 3.5z"/></svg>',
    block: '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zM4 12a8 8 0 0 1 12.9-6.3L5.7 16.9A7.96 7.96 0 0 1 4 12zm8 8c-1.8 0-3.5-.6-4.9-1.7L18.3 7.1A8 8 0 0 1 12 20z"/></svg>',
    flag: '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M5 2a1 1 0 0 1 1 1v1h12.4a.8.8 0 0 1 .7 1.2L17.5 9l1.6 3.8a.8.8 0 0 1-.7 1.2H6v7a1 1 0 1 1-2 0V3a1 1 0 0 1 1-1z"/></svg>',
    hash: '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M10.6 3.1a1 1 0 0 1 .8 1.2L10.9 8h4l.6-4.2a1 1 0 1 1 2 .3L16.9 8H20a1 1 0 1 1 0 2h-3.4l-.6 4H19a1 1 0 1 1 0 2h-3.3l-.7 4.2a1 1 0 1 1-2-.3l.6-3.9h-4l-.6 4.2a1 1 0 1 1-2-.3l.6-3.9H4a1 1 0 1 1 0-2h3.9l.6-4H5a1 1 0 1 1 0-2h3.8l.6-4.2a1 1 0 0 1 1.2-.7zM10.6 10l-.6 4h4l.6-4h-4z"/></svg>'
  };

  // ------------------------------------------------------------ the script tag

  var scriptTag = (function () {
    var s, i;
    if (document.currentScript) { return document.currentScript; }
    s = document.getElementsByTagName('script');
    for (i = s.length - 1; i >= 0; i--) {
      if (/\/widget\.js(\?|#|$)/.test(s[i].src || '')) { return s[i]; }
    }
    return null;
  }());

  function scriptBase() {
    var src = scriptTag && scriptTag.src;
    var m = /^(https?:\/\/[^\/]+(?:\/[^?#]*)?)\/widget\.js/i.exec(src || '');
    return m ? m[1] : '';
  }

  // dataOptions reads data- attributes of the script tag: data-server,
  // data-id, data-z-index (zIndex), data-layout-header (layout.header), …
  function dataOptions(tag) {
    var o = {}, attrs, i, name, key, v;
    if (!tag || !tag.attributes) { return o; }
    attrs = tag.attributes;
    for (i = 0; i < attrs.length; i++) {
      name = attrs[i].name;
      if (!/^data-/i.test(name)) { continue; }
      key = name.slice(5).toLowerCase().replace(/-([a-z])/g, function (m, c) { return c.toUpperCase(); });
      v = attrs[i].value;
      if (v === 'true') { v = true; } else if (v === 'false') { v = false; }
      if (/^layout[A-Z]/.test(key)) {
        o.layout = o.layout || {};
        o.layout[key.charAt(6).toLowerCase() + key.slice(7)] = v;
      } else {
        o[key] = v;
      }
    }
    return o;
  }

  // ------------------------------------------------------------ jQuery loading

  function jqueryOK(jq) {
    var v = jq && jq.fn && str(jq.fn.jquery).split('.');
    if (!v) { return false; }
    return (+v[0] > MIN_JQUERY[0]) || (+v[0] === MIN_JQUERY[0] && +v[1] >= MIN_JQUERY[1]);
  }

  var jqWaiters = null, ourJQuery = null;

  function domReady(fn) {
    var done = false;
    function go() {
      if (done) { return; }
      done = true;
      fn();
    }
    if (document.readyState === 'complete' || document.readyState === 'interactive') { return go(); }
    addListener(document, 'DOMContentLoaded', go);
    addListener(window, 'load', go);
  }

  function afterLoad(fn) {
    var done = false;
    function go() {
      if (done) { return; }
      done = true;
      setTimeout(fn, 0);
    }
    if (document.readyState === 'complete') { return go(); }
    addListener(window, 'load', go);
  }

  function withJQuery(url, fn) {
    if (ourJQuery) { return fn(ourJQuery); }
    if (jqueryOK(window.jQuery)) { return fn(window.jQuery); }
    if (jqWaiters) { jqWaiters.push(fn); return; }
    jqWaiters = [fn];
    // The page may load its jQuery after this script: wait for the DOM first.
    domReady(function () {
      var had = window.jQuery, s, head, done = false;
      if (jqueryOK(had)) {
        ourJQuery = had;
        return flushJQ();
      }
      url = url || (document.addEventListener ? DEFAULT_JQUERY : OLD_JQUERY);
      log('pollchat: ' + (had ? 'the page\'s jQuery ' + had.fn.jquery + ' is older than 1.7' : 'this page has no jQuery') + '; loading ' + url);
      s = document.createElement('script');
      s.src = url;
      s.async = true;
      s.onload = s.onreadystatechange = function () {
        var jq;
        if (done || (s.readyState && !/loaded|complete/.test(s.readyState))) { return; }
        done = true;
        jq = window.jQuery;
        if (!jqueryOK(jq)) {
          warn('pollchat: could not load jQuery from ' + url);
          return;
        }
        ourJQuery = had ? jq.noConflict(true) : jq;
        flushJQ();
      };
      s.onerror = function () { warn('pollchat: could not load jQuery from ' + url); };
      head = document.getElementsByTagName('head')[0] || document.documentElement;
      head.appendChild(s);
    });
  }

  function flushJQ() {
    var w = jqWaiters || [], i;
    jqWaiters = null;
    for (i = 0; i < w.length; i++) { w[i](ourJQuery); }
  }

  // -------------------------------------------------------------- transport

  var jsonpSeq = 0;
  var jsonpRegistry = {};

  function noop() {}

  function encodeParams(p) {
    var out = [];
    each(p, function (k, v) {
      if (v !== undefined && v !== null) { out.push(encodeURIComponent(k) + '=' + encodeURIComponent(str(v))); }
    });
    return out.join('&');
  }

  function isNetworkError(err) { return err && (err.code === 'NETWORK' || err.code === 'TIMEOUT' || err.code === 'UNAVAILABLE' || err.code === 'INTERNAL_ERROR'); }

  function isAuthError(err) { return err && (err.code === 'AUTH_FAILED' || err.code === 'TOKEN_EXPIRED'); }

  // Transport owns the JSONP calls, the poll loop, the cursor, retries and
  // backoff. It knows nothing of the page: the view listens to its events
  // (state, hello, event, auth_error).
  function Transport(o) {
    this.server = str(o.server).replace(/\/+$/, '');
    this.ident = o.ident;
    this.pollTimeout = +o.pollTimeout || 25;
    this.handlers = {};
    this.cursor = null;
    this.running = false;
    this.state = 'idle';
    this.failures = 0;
    this.polling = false;
    this.timer = null;
    this.outbox = [];
    this.sending = false;
    this.sendTimer = null;
    this.shareTabs = o.shareTabs !== false;
    this.scope = str(o.scope);
    this.bus = null;
    this.lang = str(o.lang);
    this.held = false;      // TOKEN_EXPIRED: the outbox waits for a new identity
    this.authWaiters = [];  // calls that wait for a new identity too
    this.stats = { polls: 0, inFlight: 0, maxInFlight: 0, hellos: 0, resets: 0, events: 0, leads: 0 };
  }

  Transport.prototype.on = function (type, fn) {
    (this.handlers[type] = this.handlers[type] || []).push(fn);
  };

  Transport.prototype.emit = function (type, a, b) {
    var list = this.handlers[type] || [], i;
    for (i = 0; i < list.length; i++) {
      try { list[i](a, b); } catch (e) { warn('pollchat: ' + type + ' handler failed: ' + (e && e.message)); }
    }
  };

  Transport.prototype.setState = function (s) {
    if (this.state !== s) {
      this.state = s;
      this.emit('state', s);
    }
  };

  // request makes one JSONP call. cb(err, data): err is the server's
  // {code, message}, or {code: "NETWORK"|"TIMEOUT"} when nothing usable came.
  Transport.prototype.request = function (endpoint, params, timeoutMs, cb) {
    var name = 'j' + (++jsonpSeq) + Math.random().toString(36).slice(2, 7);
    var head = document.getElementsByTagName('head')[0] || document.documentElement;
    var script = document.createElement('script');
    var done = false, timer, q;
    function finish(err, data) {
      if (done) { return; }
      done = true;
      clearTimeout(timer);
      jsonpRegistry[name] = noop; // a late answer lands here harmlessly
      setTimeout(function () { delete jsonpRegistry[name]; }, 120000);
      script.onerror = script.onload = script.onreadystatechange = null;
      if (script.parentNode) { script.parentNode.removeChild(script); }
      if (!err && (!data || typeof data !== 'object')) { err = { code: 'NETWORK', message: 'bad answer' }; }
      if (!err && data.error) { err = { code: str(data.error.code) || 'INTERNAL_ERROR', message: str(data.error.message) }; }
      cb(err || null, err ? null : data);
    }
    jsonpRegistry[name] = function (data) { finish(null, data); };
    q = encodeParams(mix({}, params, this.ident));
    script.src = this.server + '/v1/' + endpoint + '?' + (q ? q + '&' : '') + 'callback=Pollchat._jsonp.' + name;
    script.async = true;
    script.charset = 'utf-8';
    script.onerror = function () { finish({ code: 'NETWORK', message: 'request failed' }); };
    script.onload = script.onreadystatechange = function () {
      // The script ran without calling back: not our server's answer.
      if (script.readyState && !/loaded|complete/.test(script.readyState)) { return; }
      setTimeout(function () { finish({ code: 'NETWORK', message: 'no answer' }); }, 0);
    };
    timer = setTimeout(function () { finish({ code: 'TIMEOUT', message: 'timed out' }); }, timeoutMs || 15000);
    head.appendChild(script);
    return { abort: function () { finish({ code: 'ABORTED', message: 'aborted' }); } };
  };

  // start begins with hello, then polls. It waits for the page's load
  // event: a script element added before it would hold the page "loading"
  // (spinner, no onload) for as long as a poll is parked.
  Transport.prototype.start = function () {
    var self = this;
    if (this.running) { return; }
    this.running = true;
    afterLoad(function () { if (self.running) { self.hello(); } });
  };

  Transport.prototype.stop = function () {
    this.running = false;
    if (this.bus) { this.bus.stop(); }
    clearTimeout(this.timer);
    clearTimeout(this.sendTimer);
    if (this.current) { this.current.abort(); }
    this.outbox = [];
    this.setState('stopped');
  };

  Transport.prototype.hello = function () {
    var self = this;
    clearTimeout(this.timer);
    if (!this.running) { return; }
    if (this.state !== 'reconnecting' && this.state !== 'auth') { this.setState('connecting'); }
    this.stats.hellos++;
    // lang: the server may word its own texts (mute notices, /help) in it.
    this.request('hello', this.lang ? { lang: this.lang } : {}, 20000, function (err, data) {
      if (!self.running) { return; }
      if (err) { return self.fail(err, 'hello'); }
      self.failures = 0;
      self.cursor = data.cursor;
      self.setState('online');
      self.emit('hello', data);
      if (self.shareTabs && !self.bus && data.me && data.me.user_id != null && storageOK()) {
        // Keyed by scope too: two popups for different conversations have
        // different scoped tokens and must not share one poll.
        self.bus = new TabBus(self, self.server + '|' + data.me.user_id + (self.scope ? '|' + self.scope : ''));
      }
      if (self.bus) {
        if (self.bus.started) { self.poll(); } else { self.bus.start(); }
      } else {
        self.poll();
      }
      self.kickOutbox();
    });
  };

  // abortPoll drops the poll in flight (this tab is no longer the leader).
  Transport.prototype.abortPoll = function () {
    clearTimeout(this.timer);
    if (this.current) { this.current.abort(); }
  };

  // following is true when another tab polls for this one.
  Transport.prototype.following = function () { return !!(this.bus && !this.bus.leader); };

  // poll runs the long-poll loop: always one poll at a time, always sending
  // back the cursor it was given.
  Transport.prototype.poll = function () {
    var self = this, stats = this.stats;
    clearTimeout(this.timer);
    if (!this.running || this.polling || this.following()) { return; }
    this.polling = true;
    stats.polls++;
    stats.inFlight++;
    if (stats.inFlight > stats.maxInFlight) { stats.maxInFlight = stats.inFlight; }
    // The client gives up later than the server parks: a JSONP error is
    // otherwise invisible.
    this.current = this.request('poll', { cursor: this.cursor, timeout: this.pollTimeout }, (this.pollTimeout + 15) * 1000, function (err, data) {
      var i, events;
      self.current = null;
      self.polling = false;
      stats.inFlight--;
      if (!self.running) { return; }
      if (err) { return self.fail(err, 'poll'); }
      self.failures = 0;
      self.setState('online');
      if (data.reset) {
        stats.resets++;
        self.cursor = data.cursor || null;
        if (self.bus) { self.bus.publish({ reset: true, state: 'online' }); }
        self.emit('reset');
        return self.hello();
      }
      if (data.cursor) { self.cursor = data.cursor; }
      events = data.events || [];
      if (self.bus && self.bus.leader) { self.bus.publish({ events: events, cursor: self.cursor, state: 'online' }); }
      for (i = 0; i < events.length; i++) {
        stats.events++;
        self.emit('event', events[i]);
      }
      self.kickOutbox();
      self.timer = setTimeout(function () { self.poll(); }, 0);
    });
  };

  Transport.prototype.fail = function (err, what) {
    var self = this, delay;
    if (err.code === 'ABORTED') { return; }
    this.retryWhat = what;
    if (err.code === 'TOKEN_EXPIRED') {
      // The same identity will not be accepted again: wait for a new one
      // (setIdent), keeping the cursor, the windows and the outbox.
      this.setState('auth');
      if (this.bus && this.bus.leader) { this.bus.publish({ state: this.state, authError: err }); }
      this.emit('auth_error', err);
      return;
    }
    this.failures++;
    delay = backoff(this.failures);
    if (isAuthError(err)) {
      this.setState('auth');
      this.emit('auth_error', err);
    } else {
      this.setState('reconnecting');
    }
    if (this.bus && this.bus.leader) { this.bus.publish({ state: this.state, authError: isAuthError(err) ? err : undefined }); }
    this.emit('retry', delay);
    this.timer = setTimeout(function () {
      if (what === 'hello') { self.hello(); } else { self.poll(); }
    }, delay);
  };

  // setIdent hands over a new identity: held sends and calls go on with it,
  // and the poll goes on from the same cursor.
  Transport.prototype.setIdent = function (ident) {
    var w = this.authWaiters, i;
    this.ident = ident;
    this.held = false;
    this.authWaiters = [];
    if (this.state === 'auth') { this.failures = 0; }
    this.reconnectNow();
    for (i = 0; i < w.length; i++) { w[i](); }
    this.kickOutbox();
    this.flush();
  };

  // reconnectNow skips the rest of a backoff wait (the browser went online,
  // the user clicked "Retry now", a new token arrived).
  Transport.prototype.reconnectNow = function () {
    if (!this.running || this.polling || this.state === 'online' || this.state === 'connecting') { return; }
    if (this.following() && this.retryWhat !== 'hello') { return; }
    clearTimeout(this.timer);
    if (this.retryWhat === 'hello' || !this.cursor) { this.hello(); } else { this.poll(); }
    this.kickOutbox();
  };

  // call makes a one-off call, retried on network errors a few times.
  Transport.prototype.call = function (endpoint, params, cb, retries) {
    var self = this, tries = 0;
    cb = cb || noop;
    retries = retries === undefined ? 3 : retries;
    function go() {
      if (!self.running) { return; }
      self.request(endpoint, params, 20000, function (err, data) {
        if (err && isNetworkError(err) && tries < retries && self.running) {
          tries++;
          return setTimeout(go, backoff(tries));
        }
        if (err && err.code === 'TOKEN_EXPIRED' && retries > 0 && self.authWaiters.length < 100) {
          self.authWaiters.push(go);
          return self.emit('auth_error', err);
        }
        if (err && isAuthError(err)) { self.emit('auth_error', err); }
        cb(err, data);
      });
    }
    go();
  };

  // queue adds a state-changing call (send, request, answer) to the outbox:
  // sent in order, one at a time, retried with the same params (the same
  // client_id for sends) until the server answers.
  Transport.prototype.queue = function (endpoint, params, cb) {
    var item = { endpoint: endpoint, params: params, cb: cb || noop, tries: 0 };
    this.outbox.push(item);
    this.flush();
    return item;
  };

  // cancel takes an item out of the outbox; false when it was answered already.
  Transport.prototype.cancel = function (item) {
    var i;
    for (i = 0; i < this.outbox.length; i++) {
      if (this.outbox[i] === item) {
        if (i === 0 && this.sending) {
          item.cancelled = true; // in flight: its answer is dropped
        } else {
          this.outbox.splice(i, 1);
        }
        return true;
      }
    }
    return false;
  };

  // retryNow sends the outbox now, skipping the rest of a backoff wait.
  Transport.prototype.retryNow = function () {
    this.kickOutbox();
    this.reconnectNow();
  };

  // wentOffline: the browser says the network is gone. Say so at once and
  // wait for the online event rather than a timeout.
  Transport.prototype.wentOffline = function () {
    if (!this.running || this.state === 'auth') { return; }
    this.retryWhat = this.cursor ? 'poll' : 'hello';
    if (!this.following()) { this.abortPoll(); }
    this.setState('reconnecting');
  };

  Transport.prototype.kickOutbox = function () {
    if (this.sendTimer && !this.sending) {
      clearTimeout(this.sendTimer);
      this.sendTimer = null;
      this.flush();
    }
  };

  Transport.prototype.flush = function () {
    var self = this, item = this.outbox[0];
    if (!item || this.sending || this.sendTimer || !this.running || this.held) { return; }
    this.sending = true;
    this.request(item.endpoint, item.params, 20000, function (err, data) {
      self.sending = false;
      if (!self.running) { return; }
      if (item.cancelled) {
        self.outbox.shift();
        return self.flush();
      }
      if (err && isNetworkError(err) && item.tries < 40) {
        item.tries++;
        self.emit('send_retry', item);
        self.sendTimer = setTimeout(function () {
          self.sendTimer = null;
          self.flush();
        }, backoff(item.tries));
        return;
      }
      if (err && err.code === 'TOKEN_EXPIRED') {
        // Kept, first in line, until a new identity comes (setIdent).
        self.held = true;
        return self.emit('auth_error', err);
      }
      self.outbox.shift();
      if (err && isAuthError(err)) { self.emit('auth_error', err); }
      try { item.cb(err, data); } catch (e) { warn('pollchat: ' + (e && e.message)); }
      self.flush();
    });
  };

  // ------------------------------------------------------------ tabs

  // TabBus lets the tabs of one user on one site share a single poll: one
  // tab (the leader) polls and hands every answer to the others through
  // localStorage. Browsers allow about six connections per host across all
  // tabs, and a parked poll holds one, so seven open tabs would otherwise
  // stall each other. The leader writes a heartbeat every 2 s; when it stops
  // (tab closed, frozen) another tab takes over within about 6 s, going on
  // from the last cursor the leader handed out.
  var BEAT = 2000, STALE = 6000;

  function storageOK() {
    var ls;
    try {
      ls = window.localStorage;
      if (!ls || !window.JSON || !window.addEventListener) { return false; }
      ls.setItem('pollchat:probe', '1');
      ls.removeItem('pollchat:probe');
      return true;
    } catch (e) { return false; }
  }

  function TabBus(t, key) {
    var self = this;
    this.t = t;
    this.key = 'pollchat:' + key;
    this.id = randomId();
    this.leader = false;
    this.seq = 0;
    this.timer = null;
    this.started = false;
    this.onStorage = function (e) { self.storage(e); };
    this.onLeave = function () { self.resign(); };
  }

  TabBus.prototype.read = function (k) {
    try { return window.JSON.parse(window.localStorage.getItem(this.key + k) || 'null'); } catch (e) { return null; }
  };

  TabBus.prototype.write = function (k, v) {
    try { window.localStorage.setItem(this.key + k, window.JSON.stringify(v)); } catch (e) { /* full or blocked: the others take over */ }
  };

  TabBus.prototype.start = function () {
    var self = this;
    if (this.started) { return; }
    this.started = true;
    addListener(window, 'storage', this.onStorage);
    addListener(window, 'pagehide', this.onLeave);
    addListener(window, 'beforeunload', this.onLeave);
    this.tick();
    this.timer = setInterval(function () { self.tick(); }, BEAT);
  };

  TabBus.prototype.stop = function () {
    clearInterval(this.timer);
    removeListener(window, 'storage', this.onStorage);
    removeListener(window, 'pagehide', this.onLeave);
    removeListener(window, 'beforeunload', this.onLeave);
    this.resign();
    this.started = false;
  };

  TabBus.prototype.resign = function () {
    var l = this.read(':leader');
    if (this.leader && l && l.id === this.id) {
      try { window.localStorage.removeItem(this.key + ':leader'); } catch (e) { /* ignore */ }
    }
    this.leader = false;
  };

  // tick renews this tab's leadership, notices a newer leader, or takes
  // over from one that went quiet.
  TabBus.prototype.tick = function () {
    var self = this, l = this.read(':leader'), t = now();
    if (this.leader) {
      if (l && l.id !== this.id && t - l.ts < STALE) {
        this.leader = false;
        this.t.abortPoll();
        return;
      }
      this.write(':leader', { id: this.id, ts: t });
      return;
    }
    if (l && t - l.ts < STALE) { return; }
    this.write(':leader', { id: this.id, ts: t });
    // Two tabs may claim at once: the later write wins, the other stands down.
    setTimeout(function () {
      var now2 = self.read(':leader'), c;
      if (!now2 || now2.id !== self.id || !self.t.running) { return; }
      self.leader = true;
      c = self.read(':cursor');
      if (c && c.cursor) { self.t.cursor = c.cursor; }
      self.t.stats.leads++;
      self.t.poll();
    }, 60 + Math.floor(Math.random() * 120));
  };

  // publish hands a poll's outcome to the other tabs.
  TabBus.prototype.publish = function (msg) {
    msg.from = this.id;
    msg.n = ++this.seq;
    if (msg.cursor) { this.write(':cursor', { cursor: msg.cursor }); }
    this.write(':events', msg);
  };

  TabBus.prototype.storage = function (e) {
    var d, i, t = this.t;
    if (!e || e.key !== this.key + ':events' || !e.newValue || this.leader) { return; }
    try { d = window.JSON.parse(e.newValue); } catch (x) { return; }
    if (!d || d.from === this.id) { return; }
    if (d.state) { t.setState(d.state); }
    if (d.authError) { t.emit('auth_error', d.authError); }
    if (d.cursor) { t.cursor = d.cursor; }
    if (d.reset) {
      t.stats.resets++;
      t.emit('reset');
      t.hello();
      return;
    }
    for (i = 0; d.events && i < d.events.length; i++) {
      t.stats.events++;
      t.emit('event', d.events[i]);
    }
  };

  // ------------------------------------------------------------ the view

  var app = null;          // the running widget
  var winSeq = 0;          // ids for window titles (aria-labelledby)
  var handlers = {};       // Pollchat.on(...) listeners, kept across init/logout
  var pending = [];        // API calls made before the widget was ready
  var $ = null;            // jQuery, once known

  function emit(type, data) {
    var list = (handlers[type] || []).slice(), i;
    for (i = 0; i < list.length; i++) {
      try { list[i].call(window.Pollchat, data); } catch (e) { warn('pollchat: ' + type + ' listener failed: ' + (e && e.message)); }
    }
  }

  function el(tag, cls) {
    var e = document.createElement(tag);
    if (tag === 'button') { e.setAttribute('type', 'button'); }
    return $(e).addClass(cls || '');
  }

  function icon(name) {
    var s = el('span', 'pollchat-icon pollchat-icon-' + name);
    if (document.createElementNS) { s.append($(ICONS[name])); }
    return s;
  }

  var AVATAR_COLOURS = ['#6366f1', '#0ea5e9', '#10b981', '#f59e0b', '#ef4444', '#8b5cf6', '#ec4899', '#14b8a6', '#f97316', '#64748b'];

  function initials(name) {
    var parts = trim(name).replace(/[()\[\]{}<>"'`]/g, ' ').split(/\s+/), out = '', i;
    for (i = 0; i < parts.length && out.length < 2; i++) {
      if (parts[i]) { out += parts[i].charAt(0); }
    }
    return (out || '?').toUpperCase();
  }

  function colourFor(id) {
    var h = 0, s = str(id), i;
    for (i = 0; i < s.length; i++) { h = (h * 31 + s.charCodeAt(i)) % 1000003; }
    return AVATAR_COLOURS[h % AVATAR_COLOURS.length];
  }

  function App(opts) {
    this.o = opts;
    this.t = null;
    this.me = null;
    this.roomInfo = {};
    this.guest = false;
    this.users = {};
    this.wanted = {};
    this.convs = {};
    this.online = {};
    this.requests = {};
    this.rooms = [];
    this.windows = [];
    this.activeKey = null;
    this.unreadTotal = -1;
    this.blink = null;
    this.audio = null;
    this.tokenTimer = null;
    this.expiryWarned = false;
    this.strings = mix({}, I18N.en, I18N[opts.lang] || I18N[str(opts.lang).split('-')[0]] || {}, opts.strings);
    this.blocked = {};
    this.hidden = {};        // user id -> message id: conversations removed until a newer message
    this.expiredFired = false;
    this.query = '';
    this.reportedIds = {};   // message ids reported from here
    this.report = null;      // the open report dialog
    this.dirFound = null;    // {q, ids}: the member directory's answer to the current query
    this.dirSeq = 0;
    this.dirPending = false;
    this.dirHint = '';
    this.dirOff = false;     // the server has no directory ({supported:false})
    locale = str(opts.lang);
  }

  App.prototype.s = function (key, vars) { return fmt(own(this.strings, key) ? this.strings[key] : key, vars); };

  App.prototype.start = function () {
    var self = this, o = this.o;
    this.t = new Transport({ server: o.server, ident: this.identity(), pollTimeout: o.pollTimeout, lang: o.lang, shareTabs: o.shareTabs !== false && o.shareTabs !== 'false',
      scope: o.mode === 'page' ? 'page:' + str(o.target) : '' });
    this.t.on('state', function (s) { self.onState(s); });
    this.t.on('hello', function (d) { self.onHello(d); });
    this.t.on('event', function (ev) { self.onEvent(ev); });
    this.t.on('reset', function () { emit('reset'); });
    this.t.on('auth_error', function (err) { self.onAuthError(err); });
    this.build();
    this.onState('connecting');
    this.t.start();
    this.watchToken();
    this.onVisible = function () { if (!pageHidden()) { self.stopBlink(); self.markActiveRead(); } };
    this.onOnline = function () { self.t.reconnectNow(); self.t.kickOutbox(); };
    this.onOffline = function () { self.t.wentOffline(); };
    addListener(document, 'visibilitychange', this.onVisible);
    addListener(window, 'focus', this.onVisible);
    addListener(window, 'online', this.onOnline);
    addListener(window, 'offline', this.onOffline);
  };

  App.prototype.identity = function () {
    var o = this.o;
    var ident;
    if (o.token) { return { token: o.token }; }
    // A guest (rooms.guest_read on the server) reads public rooms only.
    if (o.guest && !o.id) { return {}; }
    ident = { id: str(o.id), timestamp: str(o.timestamp), hash: str(o.hash) };
    // eStreamChat pages send the user's name and picture along (unsigned:
    // the server uses them only when its user source knows nothing better).
    if (o.name) { ident.name = str(o.name); }
    if (o.thumbUrl) { ident.thumbUrl = str(o.thumbUrl); }
    return ident;
  };

  App.prototype.stop = function () {
    if (this.t) { this.t.stop(); }
    clearTimeout(this.tokenTimer);
    this.stopBlink();
    removeListener(document, 'visibilitychange', this.onVisible);
    removeListener(window, 'focus', this.onVisible);
    removeListener(window, 'online', this.onOnline);
    removeListener(window, 'offline', this.onOffline);
    if (this.$root) { this.$root.remove(); }
    if (this.$style) { this.$style.remove(); }
    if ($) { $(document).off('click.pollchat'); }
  };

  // ---- token expiry

  App.prototype.watchToken = function () {
    var self = this, exp, wait;
    clearTimeout(this.tokenTimer);
    this.expiryWarned = false;
    if (!this.o.token) { return; }
    exp = tokenExpiry(this.o.token);
    if (!exp) { return; }
    wait = exp - now() - (+this.o.tokenWarning || 60) * 1000;
    this.tokenTimer = setTimeout(function () { self.warnExpiry(); }, Math.max(0, Math.min(wait, 2147483000)));
  };

  App.prototype.warnExpiry = function () {
    if (this.expiryWarned) { return; }
    this.expiryWarned = true;
    emit('access_token_is_about_to_expire', { expires_at: tokenExpiry(this.o.token) || null });
  };

  App.prototype.setIdentity = function (ident) {
    var o = this.o;
    delete o.token; delete o.id; delete o.timestamp; delete o.hash;
    mix(o, ident);
    this.expiredFired = false;
    this.watchToken();
    this.t.setIdent(this.identity());
  };

  App.prototype.onAuthError = function (err) {
    if (err.code === 'TOKEN_EXPIRED') {
      this.warnExpiry();
      // Once per token: the site answers with updateAccessToken(newToken).
      if (this.o.token && !this.expiredFired) {
        this.expiredFired = true;
        emit('access_token_expired', { expires_at: tokenExpiry(this.o.token) || null });
      }
    }
    emit('auth_error', err);
  };

  // ---- building the DOM

  App.prototype.build = function () {
    var self = this, o = this.o, $root, $panel, $head, $tabs, $launcher;
    $('#' + ROOT_ID).remove();
    this.loadCSS();
    $root = this.$root = el('div', 'pollchat-root').attr('id', ROOT_ID)
      .addClass(o.position === 'left' || o.position === 'bottom-left' ? 'pollchat-pos-left' : 'pollchat-pos-right')
      .attr('lang', o.lang || 'en')
      .attr('dir', this.dir());
    if (o.zIndex !== undefined && o.zIndex !== '') { $root.css('z-index', +o.zIndex || 0); }
    this.applyLayout();

    if (o.mode === 'page') {
      $root.addClass('pollchat-mode-page');
      this.$dock = el('div', 'pollchat-dock').appendTo($root);
      this.$toasts = el('div', 'pollchat-toasts').appendTo($root);
      this.$requests = el('div', 'pollchat-requests').appendTo($root);
      this.$live = el('div', 'pollchat-sr').attr('aria-live', 'polite').attr('role', 'status').appendTo($root);
      $root.on('keydown', function (e) { self.onKey(e); });
      $root.appendTo(o.container ? $(o.container) : document.body);
      return;
    }

    this.$dock = el('div', 'pollchat-dock').appendTo($root);

    $panel = this.$panel = el('div', 'pollchat-panel').attr('role', 'dialog').attr('id', 'pollchat-panel')
      .attr('aria-labelledby', 'pollchat-panel-title').appendTo($root);
    $head = el('div', 'pollchat-header').appendTo($panel);
    this.$meAvatar = el('span', 'pollchat-avatar-slot').appendTo($head);
    el('div', 'pollchat-head-text')
      .append(el('h2', 'pollchat-head-title').attr('id', 'pollchat-panel-title').text(o.title || this.s('title')))
      .append(this.$status = el('div', 'pollchat-head-sub').text(this.s('connecting')))
      .appendTo($head);
    el('button', 'pollchat-hbtn pollchat-panel-close').attr('title', this.s('minimise')).attr('aria-label', this.s('minimise'))
      .append(icon('minus')).on('click', function () { self.close(); }).appendTo($head);

    this.$conn = el('div', 'pollchat-conn').appendTo($panel);
    this.fillConn(this.$conn);

    // Real tabs: a tablist, tabs that own their panels, arrow keys between them.
    $tabs = el('div', 'pollchat-tabs').attr('role', 'tablist').appendTo($panel);
    this.$tabPeople = el('button', 'pollchat-tab pollchat-tab-on').attr('id', 'pollchat-tab-people').attr('role', 'tab')
      .attr('aria-selected', 'true').attr('aria-controls', 'pollchat-people').text(this.s('people')).appendTo($tabs);
    this.$tabRooms = el('button', 'pollchat-tab').attr('id', 'pollchat-tab-rooms').attr('role', 'tab')
      .attr('aria-selected', 'false').attr('aria-controls', 'pollchat-roomlist').attr('tabindex', '-1').text(this.s('rooms')).appendTo($tabs);
    if (o.rooms === false) { this.$tabRooms.hide(); }
    this.$tabPeople.on('click', function () { self.tab('people'); });
    this.$tabRooms.on('click', function () { self.tab('rooms'); });
    $tabs.on('keydown', function (e) {
      var k = e.which, rtl = self.dir() === 'rtl', next;
      if (k !== 37 && k !== 39 && k !== 36 && k !== 35) { return; }
      if (o.rooms === false) { return; }
      next = k === 36 ? 'people' : k === 35 ? 'rooms' : self.$tabPeople.hasClass('pollchat-tab-on') ? 'rooms' : 'people';
      e.preventDefault();
      self.tab(next);
      (next === 'rooms' ? self.$tabRooms : self.$tabPeople).focus();
      return rtl;
    });

    this.$body = el('div', 'pollchat-panel-body').appendTo($panel);
    // The directory: everyone the widget knows, searchable by name, and
    // from 2 characters on the site's members too (/v1/directory).
    this.$search = $(document.createElement('input')).addClass('pollchat-search').attr('type', 'search')
      .attr('placeholder', this.s('search')).attr('aria-label', this.s('search')).attr('aria-controls', 'pollchat-people')
      .on('input keyup', function () {
        var q = trim($(this).val()).toLowerCase();
        if (q !== self.query) {
          self.query = q;
          self.searchDirectory(q);
          self.renderPeople();
        }
      })
      .on('keydown', function (e) {
        var $first;
        if (e.which !== 13 && e.which !== 40) { return; }
        $first = self.$people.find('.pollchat-row-main').first();
        if (!$first.length) { return; }
        e.preventDefault();
        // Enter opens the first person found; Down moves into the list.
        if (e.which === 13) { $first.click(); } else { $first.focus(); }
      });
    el('div', 'pollchat-search-wrap').append(this.$search)
      .append(this.$searchHint = el('div', 'pollchat-search-hint').attr('role', 'status').attr('aria-live', 'polite'))
      .appendTo(this.$body);
    this.$people = el('div', 'pollchat-people').attr('id', 'pollchat-people').attr('role', 'tabpanel')
      .attr('aria-labelledby', 'pollchat-tab-people').appendTo(this.$body);
    this.$roomList = el('div', 'pollchat-roomlist').attr('id', 'pollchat-roomlist').attr('role', 'tabpanel')
      .attr('aria-labelledby', 'pollchat-tab-rooms').hide().appendTo(this.$body);

    this.$requests = el('div', 'pollchat-requests').appendTo($root);
    this.$toasts = el('div', 'pollchat-toasts').attr('role', 'status').attr('aria-live', 'polite').appendTo($root);
    // One polite live region for what has no place of its own: typing, requests.
    this.$live = el('div', 'pollchat-sr').attr('aria-live', 'polite').attr('role', 'status').appendTo($root);

    $launcher = this.$launcher = el('button', 'pollchat-launcher').attr('title', this.s('openChat')).attr('aria-label', this.s('openChat'))
      .attr('aria-expanded', 'false').attr('aria-controls', 'pollchat-panel')
      .append(icon('chat'))
      .append(icon('close').addClass('pollchat-launcher-close'))
      .append(this.$badge = el('span', 'pollchat-badge').hide())
      .append(el('span', 'pollchat-launcher-dot'))
      .appendTo($root);
    $launcher.on('click', function () { self.toggle(true); });
    $root.on('keydown', function (e) { self.onKey(e); });

    $root.appendTo(o.container ? $(o.container) : document.body);
    // Hidden mode: no launcher; the widget shows itself for a conversation
    // (openDialog, composeMessage, an incoming message or request).
    if (o.hidden) { $root.addClass('pollchat-hidden pollchat-no-launcher'); }
    this.renderPeople();
    this.renderRooms();
    if (o.open) { this.open(); }
    $(document).on('click.pollchat', function () { self.unlockAudio(); });
  };

  // loadCSS adds widget.css from the server once, unless the page has it or
  // the css option says otherwise (false: the site styles the widget itself).
  App.prototype.loadCSS = function () {
    var href = this.o.css, link, i, links = document.getElementsByTagName('link');
    if (href === false || href === 'false') { return; }
    href = href && href !== true ? str(href) : this.o.server + '/widget.css?v=' + CSS_VERSION;
    for (i = 0; i < links.length; i++) {
      if (links[i].getAttribute('data-pollchat') === 'css' || /\/widget\.css(\?|$)/.test(links[i].href || '')) { return; }
    }
    link = document.createElement('link');
    link.setAttribute('rel', 'stylesheet');
    link.setAttribute('data-pollchat', 'css');
    link.setAttribute('href', href);
    (document.getElementsByTagName('head')[0] || document.documentElement).appendChild(link);
  };

  App.prototype.fillConn = function ($c) {
    var self = this;
    $c.empty()
      .append(el('span', 'pollchat-spinner'))
      .append(el('span', 'pollchat-conn-text').text(this.s('reconnecting')))
      .append(el('button', 'pollchat-conn-retry').text(this.s('retryNow')).on('click', function () { self.t.reconnectNow(); }));
  };

  App.prototype.applyLayout = function () {
    var L = this.o.layout || {}, css = [], r = '#' + ROOT_ID, v, c, node;
    function rule(sel, decl) { css.push(sel + '{' + decl + '}'); }
    // decl is "background:…;color:…" for what c holds (either may be empty).
    function decl(c) {
      var d = [];
      if (c.bg) { d.push('background:' + c.bg); }
      if (c.fg) { d.push('color:' + c.fg); }
      return d.join(';');
    }
    if ((v = safeCSS(L.fontFamily, true))) {
      rule(r + ',' + r + ' .pollchat-input,' + r + ' button', 'font-family:' + v + ' !important');
    }
    if ((c = colours(L.header, true)) && decl(c)) { rule(r + ' .pollchat-header', decl(c)); }
    // headerButton: a string is the icons' colour.
    c = typeof L.headerButton === 'object' && L.headerButton ? colours(L.headerButton, false) : { bg: '', fg: safeCSS(L.headerButton) };
    if (decl(c)) { rule(r + ' .pollchat-hbtn', decl(c)); }
    if ((c = colours(L.body, false)) && decl(c)) {
      rule(r + ' .pollchat-panel-body,' + r + ' .pollchat-msgs,' + r + ' .pollchat-panel,' + r + ' .pollchat-window,' + r + ' .pollchat-compose,' + r + ' .pollchat-request', decl(c));
    }
    if ((c = colours(L.launcher, true)) && decl(c)) {
      rule(r + ' .pollchat-launcher,' + r + ' .pollchat-sendbtn,' + r + ' .pollchat-btn-primary', decl(c));
      if (c.bg) {
        rule(r + ' .pollchat-tab-on', 'border-bottom-color:' + c.bg + ';color:' + c.bg);
        rule(r + ' .pollchat-seen .pollchat-state,' + r + ' .pollchat-earlier', 'color:' + c.bg);
      }
    }
    if ((c = colours(L.messageSent, true)) && decl(c)) { rule(r + ' .pollchat-out .pollchat-bubble', decl(c)); }
    if ((c = colours(L.messageReceived, true)) && decl(c)) { rule(r + ' .pollchat-in .pollchat-bubble', decl(c)); }
    if (!css.length) { return; }
    node = document.createElement('style');
    node.setAttribute('type', 'text/css');
    node.setAttribute('data-pollchat', 'layout');
    if (node.styleSheet) { node.styleSheet.cssText = css.join('\n'); } else { node.appendChild(document.createTextNode(css.join('\n'))); }
    (document.getElementsByTagName('head')[0] || document.documentElement).appendChild(node);
    this.$style = $(node);
  };

  App.prototype.tab = function (which) {
    var rooms = which === 'rooms';
    this.$tabPeople.toggleClass('pollchat-tab-on', !rooms).attr('aria-selected', rooms ? 'false' : 'true').attr('tabindex', rooms ? '-1' : '0');
    this.$tabRooms.toggleClass('pollchat-tab-on', rooms).attr('aria-selected', rooms ? 'true' : 'false').attr('tabindex', rooms ? '0' : '-1');
    this.$people.toggle(!rooms);
    this.$search.parent().toggle(!rooms);
    this.$roomList.toggle(rooms);
  };

  // ---- users

  App.prototype.user = function (id) {
    id = str(id);
    if (!own(this.users, id)) { this.want(id); }
    return this.users[id] || { user_id: id, name: '' };
  };

  App.prototype.nameOf = function (id) {
    var u = this.user(id);
    return u.name || ('#' + str(id));
  };

  App.prototype.learn = function (u) {
    var id;
    if (!u || u.user_id == null) { return; }
    id = str(u.user_id);
    u.user_id = id;
    this.users[id] = mix(this.users[id] || {}, u);
    delete this.wanted[id];
    this.refreshUser(id);
  };

  App.prototype.want = function (id) {
    var self = this;
    if (!id || own(this.wanted, id) || !this.t) { return; }
    this.wanted[id] = true;
    if (this.wantTimer) { return; }
    this.wantTimer = setTimeout(function () {
      var ids = [], batch;
      self.wantTimer = null;
      each(self.wanted, function (k, v) { if (v === true) { ids.push(k); self.wanted[k] = 'asked'; } });
      function next() {
        if (!ids.length) { return; }
        batch = ids.splice(0, 100);
        self.t.call('users', { ids: batch.join(',') }, function (err, data) {
          var i, list = (data && data.users) || [];
          for (i = 0; i < list.length; i++) { self.learn(list[i]); }
          next();
        });
      }
      next();
    }, 30);
  };

  // refreshUser updates every name and avatar shown for a user.
  App.prototype.refreshUser = function (id) {
    var self = this, u = this.users[id];
    if (!this.$root) { return; }
    if (this.o.mode === 'page' && str(this.o.target) === id && u.name) {
      document.title = u.name + ' · ' + this.s('title');
    }
    this.$root.find('.pollchat-uname').filter(function () { return $(this).attr('data-uid') === id; }).each(function () {
      $(this).text(u.name || ('#' + id));
    });
    this.$root.find('.pollchat-avatar').filter(function () { return $(this).attr('data-uid') === id; }).each(function () {
      $(this).replaceWith(self.avatar(id, $(this).hasClass('pollchat-avatar-sm')));
    });
    this.$root.find('.pollchat-msg').filter(function () { return $(this).attr('data-from') === id; })
      .children('.pollchat-report-btn:not(.pollchat-reported)').attr('aria-label', this.s('reportMsg', { name: u.name || ('#' + id) }));
    // The window's header links to the profile once it is known.
    if (own(this.convs, 'user:' + id) && this.convs['user:' + id].win && this.convs['user:' + id].win.$who) {
      (function (w) {
        w.$who.empty().append(self.profileLink(id, self.avatar(id), true));
        w.$el.find('.pollchat-head-title').first().empty().append(self.profileLink(id, self.uname(id)));
      }(this.convs['user:' + id].win));
    }
  };

  App.prototype.uname = function (id, cls) {
    return el('span', 'pollchat-uname ' + (cls || '')).attr('data-uid', str(id)).text(this.nameOf(id));
  };

  App.prototype.avatar = function (id, small) {
    var u = this.user(id), $a, url, img;
    $a = el('span', 'pollchat-avatar' + (small ? ' pollchat-avatar-sm' : '')).attr('data-uid', str(id))
      .css('background-color', colourFor(id));
    $a.append(el('span', 'pollchat-initials').text(initials(u.name || str(id))));
    url = safeURL(u.avatar_url || u.thumb_url || '');
    if (url) {
      img = document.createElement('img');
      img.setAttribute('alt', '');
      img.className = 'pollchat-avatar-img';
      img.onerror = function () { if (img.parentNode) { img.parentNode.removeChild(img); } };
      img.setAttribute('src', url);
      $a.append(img);
    }
    $a.append(el('span', 'pollchat-presence'));
    $a.toggleClass('pollchat-is-online', !!this.online[str(id)]);
    return $a;
  };

  // ---- state and hello

  App.prototype.onState = function (s) {
    var $r = this.$root;
    if (!$r) { return; }
    $r.removeClass('pollchat-state-connecting pollchat-state-online pollchat-state-reconnecting pollchat-state-auth pollchat-state-stopped')
      .addClass('pollchat-state-' + s);
    if (this.$status) {
      this.$status.text(s === 'online' ? (this.me ? this.nameOf(this.me) : this.s('online')) : s === 'auth' ? this.s('authFailed') : s === 'connecting' ? this.s('connecting') : this.s('reconnecting'));
    }
    $r.find('.pollchat-conn-text').text(s === 'auth' ? this.s('authFailed') : this.s('reconnecting'));
    emit('connection_changed', s);
  };

  App.prototype.onHello = function (d) {
    var self = this, i, c, conv, key, list, r;
    if (d.files && d.files.max_size) { this.o.files = d.files; }
    if (d.me) {
      this.learn(d.me);
      this.me = str(d.me.user_id);
      this.$root.attr('data-me', this.me);
      if (this.$meAvatar) { this.$meAvatar.empty().append(this.avatar(this.me)); }
      if (this.$status && this.t.state === 'online') { this.$status.text(this.nameOf(this.me)); }
      this.loadHidden();
    }
    this.online = {};
    list = d.online || [];
    for (i = 0; i < list.length; i++) {
      if (typeof list[i] === 'object' && list[i]) { this.learn(list[i]); this.online[str(list[i].user_id)] = true; } else { this.online[str(list[i])] = true; }
    }
    list = d.conversations || [];
    for (i = 0; i < list.length; i++) {
      c = list[i];
      key = c.room != null ? 'room:' + c.room : c.system ? 'system:' : 'user:' + c['with'];
      conv = this.conv(key);
      conv.unread = +c.unread || 0;
      if (c.last_message) { conv.last = c.last_message; }
    }
    this.rooms = d.rooms || [];
    // Created rooms carry a title and a private flag (hello.room_info).
    this.roomInfo = d.room_info || {};
    this.guest = !!d.guest;
    if (this.guest && this.$tabPeople) {
      this.$tabPeople.hide();
      this.tab('rooms');
    }
    list = d.requests || [];
    for (i = 0; i < list.length; i++) {
      r = list[i];
      if (r && r.from) { this.showRequest(r, true); }
    }
    this.renderPeople();
    this.renderRooms();
    this.updateUnread();
    // After a reset, fill what the windows may have missed.
    for (i = 0; i < this.windows.length; i++) {
      conv = this.windows[i];
      if (conv.kind === 'room') { this.joinRoom(conv, true); } else { this.loadHistory(conv, false); }
    }
    if (!this.readyFired) {
      this.readyFired = true;
      this.resendUnsent();
      this.loadBlocked();
      emit('ready', { me: this.me ? this.users[this.me] : null });
      emit('chat_loaded', { me: this.me ? mix({}, this.users[this.me]) : null, chats: this.chats() });
      runPending();
    }
    setTimeout(function () { self.refreshPresence(); }, 0);
  };

  // ---- conversations

  App.prototype.conv = function (key) {
    var parts, c;
    if (own(this.convs, key)) { return this.convs[key]; }
    parts = /^(user|room|system):(.*)$/.exec(key);
    c = {
      key: key, kind: parts[1], id: parts[2],
      msgs: [], byId: {}, byClient: {}, unread: 0, myRead: 0, peerRead: 0,
      hasMore: true, loaded: false, last: null, win: null, minimised: false, members: {}, mutes: {}, memberCount: 0,
      mutedUntil: 0
    };
    this.convs[key] = c;
    return c;
  };

  App.prototype.convOf = function (m) {
    if (m.room != null) { return this.conv('room:' + m.room); }
    // backend notices to one user (no sender) have a conversation of their own
    if (m.system || m.from == null) { return this.conv('system:'); }
    if (str(m.from) === this.me || (m.from == null && m.to != null && str(m.to) !== this.me)) { return this.conv('user:' + m.to); }
    return this.conv('user:' + m.from);
  };

  App.prototype.onEvent = function (ev) {
    var t = ev && ev.type, conv;
    if (!t) { return; }
    switch (t) {
    case 'message':
      this.onMessage(ev.message || ev);
      break;
    case 'chat_request':
      this.showRequest(ev.request || ev, false);
      break;
    case 'chat_answer':
      this.onAnswer(ev);
      break;
    case 'typing':
      this.onTyping(ev);
      break;
    case 'read':
      this.onRead(ev);
      break;
    case 'presence':
      this.onPresence(str(ev.user_id), ev.status === 'online');
      break;
    case 'user_joined':
    case 'user_left':
      conv = this.conv('room:' + ev.room);
      if (ev.user) {
        this.learn(ev.user);
        if (t === 'user_joined') {
          if (!own(conv.members, str(ev.user.user_id))) { conv.memberCount++; }
          conv.members[str(ev.user.user_id)] = ev.user;
        } else {
          if (own(conv.members, str(ev.user.user_id))) { conv.memberCount--; }
          delete conv.members[str(ev.user.user_id)];
        }
        this.renderMembers(conv);
      }
      break;
    case 'user_muted':
      conv = this.conv('room:' + ev.room);
      conv.mutes[str(ev.user_id)] = { mins: ev.mins, expires_at: ev.expires_at };
      if (str(ev.user_id) === this.me) {
        conv.mutedUntil = (parseISO(ev.expires_at) || new Date(now() + (+ev.mins || 0) * 60000)).getTime();
        this.systemLine(conv, this.s('muted', { time: clock(ev.expires_at) }));
      }
      this.renderMembers(conv);
      break;
    case 'user_unmuted':
      conv = this.conv('room:' + ev.room);
      delete conv.mutes[str(ev.user_id)];
      if (str(ev.user_id) === this.me) { conv.mutedUntil = 0; }
      this.renderMembers(conv);
      break;
    case 'message_deleted':
    case 'room_cleared':
    case 'banned':
    case 'unbanned':
    case 'kicked':
      this.onModeration(t, ev);
      break;
    case 'system_message':
      if (ev.room != null) {
        this.systemLine(this.conv('room:' + ev.room), str(ev.text), true);
      } else {
        this.toast(str(ev.text));
      }
      break;
    }
    emit('event', ev);
  };

  // onModeration shows a moderator's action (docs/protocol.md, section 3).
  App.prototype.onModeration = function (t, ev) {
    var conv, m, $old, i, reason = ev.reason ? ': ' + str(ev.reason) : '';
    if (t === 'message_deleted') {
      conv = this.conv(ev.room != null ? 'room:' + ev.room : 'user:' + str(ev['with']));
      m = conv.byId[ev.id];
      if (!m) { return; }
      m.text = '';
      m.data = null;
      m.deleted = true;
      if (conv.win) {
        $old = conv.win.$msgs.children('.pollchat-msg[data-id="' + str(+ev.id) + '"]');
        if ($old.length) { $old.replaceWith(this.messageEl(conv, m)); this.group(conv); }
      }
      this.renderPeople();
    } else if (t === 'room_cleared') {
      conv = this.conv('room:' + ev.room);
      conv.msgs = [];
      conv.byId = {};
      conv.last = null;
      if (conv.win) { conv.win.$msgs.children('.pollchat-msg, .pollchat-day').remove(); }
      this.systemLine(conv, this.s('roomCleared'), true);
    } else if (t === 'kicked') {
      conv = this.conv('room:' + ev.room);
      if (this.me && own(conv.members, this.me)) { conv.memberCount--; delete conv.members[this.me]; }
      if (conv.win) { this.renderMembers(conv); }
      this.systemLine(conv, this.s('kicked', { room: str(ev.room) }) + reason, true);
    } else {
      this.bannedUntil = t === 'banned' ? (ev.until ? parseISO(ev.until) : true) : null;
      t = t === 'unbanned' ? this.s('unbanned') : (ev.until ? this.s('banned', { time: clock(ev.until) }) : this.s('bannedForever')) + reason;
      for (i = 0; i < this.windows.length; i++) { this.systemLine(this.windows[i], t); }
      if (!this.windows.length) { this.toast(t); }
    }
  };

  App.prototype.onMessage = function (m) {
    var conv, mine, pendingEl, isNew;
    if (!m || m.id == null) { return; }
    conv = this.convOf(m);
    mine = this.me && str(m.from) === this.me;
    isNew = !own(conv.byId, m.id);
    if (!isNew) { return; } // seen already (e.g. from history): exactly once
    this.unhide(conv, m.id);
    if (mine && m.client_id && own(conv.byClient, m.client_id)) {
      pendingEl = conv.byClient[m.client_id];
      this.confirm(conv, pendingEl, m);
      return;
    }
    this.addMessage(conv, m);
    conv.last = m;
    if (mine) {
      this.renderPeople();
      return;
    }
    if (m.from != null) { this.onPresence(str(m.from), true, true); }
    emit('message_received', m);
    // On a phone a window is the whole screen: the badge says it instead,
    // unless there is no launcher to carry a badge (hidden mode).
    if (conv.kind === 'user' && !conv.win && this.o.autoOpen !== false && (!this.phone() || this.noLauncher())) {
      this.openWindow(conv, false);
    }
    this.reveal();
    if (conv.kind === 'system' && !this.isActive(conv)) { this.toast(str(m.text)); }
    if (this.isActive(conv)) {
      this.markRead(conv);
    } else if (conv.kind !== 'room' || conv.win) {
      conv.unread++;
      this.updateUnread();
      this.notify(conv, m);
    }
    if (conv.win) { this.stopTyping(conv); }
    this.renderPeople();
  };

  // addMessage files a message in its conversation and draws it.
  App.prototype.addMessage = function (conv, m) {
    var i;
    if (own(conv.byId, m.id)) { return; }
    conv.byId[m.id] = m;
    for (i = conv.msgs.length; i > 0 && conv.msgs[i - 1].id > m.id; i--) { /* find slot */ }
    conv.msgs.splice(i, 0, m);
    if (conv.win) { this.drawMessage(conv, m); }
  };

  // drawMessage puts a message in id order: before the first newer one, or
  // else after everything confirmed (pending bubbles stay last).
  App.prototype.drawMessage = function (conv, m) {
    var w = conv.win, $m = this.messageEl(conv, m), $before = null, $pending, stick;
    w.$msgs.children('.pollchat-msg').each(function () {
      var id = +$(this).attr('data-id');
      if (id && id > m.id) {
        $before = $(this);
        return false;
      }
    });
    stick = this.nearBottom(conv);
    if ($before) {
      $before.before($m);
    } else {
      $pending = w.$msgs.children('.pollchat-pending').first();
      if ($pending.length) { $pending.before($m); } else { w.$typing.before($m); }
    }
    this.group(conv);
    if (stick || str(m.from) === this.me) { this.scrollDown(conv); }
    this.drawSeen(conv);
  };

  App.prototype.messageEl = function (conv, m) {
    var mine = str(m.from) === this.me, system = (m.system || m.from == null) && conv.kind !== 'system', $m, $body;
    $m = el('div', 'pollchat-msg ' + (system ? 'pollchat-sys' : mine ? 'pollchat-out' : 'pollchat-in'))
      .attr('data-id', m.id != null ? str(m.id) : '')
      .attr('data-from', str(m.from))
      .attr('data-ts', str(m.ts));
    if (system) {
      $m.append(el('div', 'pollchat-sys-text').text(str(m.text)));
      return $m;
    }
    if (!mine && conv.kind === 'room') {
      $m.append(this.profileLink(m.from, this.avatar(m.from, true), true));
      $m.append(el('div', 'pollchat-author').append(this.profileLink(m.from, this.uname(m.from))).append(this.roleBadge(m.from, conv)));
    }
    $body = el('div', 'pollchat-bubble').attr('dir', 'auto').attr('title', clock(m.ts));
    if (m.deleted || (str(m.text) === '' && !m.data)) {
      // A tombstone: /v1/history marks it deleted, a room's join history
      // gives it with no text.
      $m.addClass('pollchat-deleted');
      $body.append(el('em', 'pollchat-deleted-text').text(this.s('deleted')));
    } else if (m.data && m.data.attachment && m.data.attachment.url) {
      // The text of a message with a file is its caption, or its name.
      if (str(m.text) !== str(m.data.attachment.name)) { this.fillText($body, str(m.text)); }
      $body.append(this.attachmentEl(m.data.attachment));
    } else {
      this.fillText($body, str(m.text));
    }
    $m.append($body);
    if (!mine && !this.guest && !$m.hasClass('pollchat-deleted') && m.id != null && m.from != null && (conv.kind === 'user' || conv.kind === 'room')) {
      $m.append(this.reportButton(conv, m));
    }
    $m.append(el('div', 'pollchat-meta').append(el('span', 'pollchat-time').text(clock(m.ts))).append(el('span', 'pollchat-state')));
    return $m;
  };

  App.prototype.roleBadge = function (id, conv) {
    var u = (conv && conv.members[str(id)]) || this.users[str(id)] || {}, role = str(u.role);
    if (role !== 'admin' && role !== 'mod' && role !== 'owner') { return null; }
    return el('span', 'pollchat-role pollchat-role-' + role).text(this.s('role' + role.charAt(0).toUpperCase() + role.slice(1)));
  };

  // group hides repeated author lines and times inside a run of messages,
  // and puts a day line where the visitor's calendar day changes.
  App.prototype.group = function (conv) {
    var prev = null, day = 0;
    conv.win.$msgs.children('.pollchat-day').remove();
    conv.win.$msgs.children('.pollchat-msg').each(function () {
      var d = parseISO($(this).attr('data-ts')), k;
      if (!d) { return; }
      k = dayOf(d);
      if (k !== day) {
        day = k;
        $(this).before(el('div', 'pollchat-day').attr('role', 'separator').append(el('span').text(dayLabel(d))));
      }
    });
    conv.win.$msgs.children('.pollchat-msg').each(function () {
      var $m = $(this), from = $m.attr('data-from'), sys = $m.hasClass('pollchat-sys');
      $m.removeClass('pollchat-cont pollchat-grouped');
      if (prev && !sys && !prev.sys && prev.from === from && !$m.prev().hasClass('pollchat-day')) {
        $m.addClass('pollchat-cont');
        prev.$m.addClass('pollchat-grouped');
      }
      prev = { $m: $m, from: from, sys: sys };
    });
  };

  App.prototype.systemLine = function (conv, text, fromServer) {
    var $m;
    if (!conv.win) {
      if (fromServer) { this.toast(text); }
      return;
    }
    $m = el('div', 'pollchat-msg pollchat-sys').append(el('div', 'pollchat-sys-text').text(text));
    conv.win.$typing.before($m);
    this.scrollDown(conv);
  };

  App.prototype.nearBottom = function (conv) {
    var e = conv.win.$msgs[0];
    return e.scrollHeight - e.scrollTop - e.clientHeight < 60;
  };

  App.prototype.scrollDown = function (conv) {
    var e = conv.win && conv.win.$msgs[0];
    if (e) { e.scrollTop = e.scrollHeight; }
  };

  // ---- read marks and unread counts

  App.prototype.isActive = function (conv) {
    if (!conv.win || conv.minimised || pageHidden()) { return false; }
    return this.o.mode === 'page' || this.activeKey === conv.key;
  };

  App.prototype.markActiveRead = function () {
    var c = this.activeKey && this.convs[this.activeKey];
    if (c && this.isActive(c)) { this.markRead(c); }
  };

  App.prototype.markRead = function (conv) {
    var upto = 0, i, m, params;
    for (i = conv.msgs.length - 1; i >= 0; i--) {
      m = conv.msgs[i];
      if (str(m.from) !== this.me) { upto = m.id; break; }
    }
    if (conv.unread) {
      conv.unread = 0;
      this.updateUnread();
    }
    if (!upto || upto <= conv.myRead) { return; }
    conv.myRead = upto;
    params = this.convParams(conv);
    params.upto = upto;
    this.t.call('read', params, null, 2);
  };

  App.prototype.onRead = function (ev) {
    var by = str(ev.by), conv, was, i, m, ids = [];
    if (ev.room != null) {
      if (by === this.me) { conv = this.conv('room:' + ev.room); conv.myRead = Math.max(conv.myRead, +ev.upto || 0); conv.unread = 0; this.updateUnread(); }
      return;
    }
    if (by === this.me) {
      // another tab of mine read it
      conv = this.conv(ev.system ? 'system:' : 'user:' + ev['with']);
      conv.myRead = Math.max(conv.myRead, +ev.upto || 0);
      conv.unread = 0;
      this.updateUnread();
      return;
    }
    conv = this.conv('user:' + by);
    was = conv.peerRead;
    conv.peerRead = Math.max(conv.peerRead, +ev.upto || 0);
    this.drawSeen(conv);
    emit('read', { by: by, upto: conv.peerRead });
    if (conv.peerRead > was) {
      // message_read lists the messages of mine this mark newly covers.
      for (i = 0; i < conv.msgs.length; i++) {
        m = conv.msgs[i];
        if (str(m.from) === this.me && m.id > was && m.id <= conv.peerRead) { ids.push(m.id); }
      }
      emit('message_read', { by: by, 'with': by, upto: conv.peerRead, message_ids: ids });
    }
  };

  App.prototype.drawSeen = function (conv) {
    var self = this, $last = null;
    if (!conv.win || conv.kind !== 'user') { return; }
    conv.win.$msgs.find('.pollchat-seen').removeClass('pollchat-seen').find('.pollchat-state').text('');
    if (!conv.peerRead) { return; }
    conv.win.$msgs.children('.pollchat-out').each(function () {
      var id = +$(this).attr('data-id');
      if (id && id <= conv.peerRead) { $last = $(this); }
    });
    if ($last) { $last.addClass('pollchat-seen').find('.pollchat-state').text(self.s('seen')); }
  };

  App.prototype.updateUnread = function () {
    var total = 0, self = this;
    each(this.convs, function (k, c) { if ((c.kind !== 'room' || c.win) && !self.isHidden(c)) { total += c.unread; } });
    each(this.convs, function (k, c) {
      if (c.win) { c.win.$badge.text(c.unread > 99 ? '99+' : str(c.unread)).toggle(c.unread > 0); }
    });
    if (this.$badge) { this.$badge.text(total > 99 ? '99+' : str(total)).toggle(total > 0); }
    if (total !== this.unreadTotal) {
      this.unreadTotal = total;
      if (this.$root) { this.$root.attr('data-unread', str(total)); }
      emit('unread_changed', total);
      if (!total) { this.stopBlink(); }
    }
    if (this.$people) { this.renderPeopleSoon(); }
    return self;
  };

  // ---- notifications while the tab is hidden

  App.prototype.notify = function (conv, m) {
    var self = this, title, N = window.Notification, n;
    if (!pageHidden()) { return; }
    if (this.o.sound !== false) { this.beep(); }
    if (N && N.permission === 'granted' && this.o.notifications !== false) {
      try {
        n = new N(this.s('newMessage', { name: this.nameOf(m.from) }), { body: str(m.text).slice(0, 140), tag: 'pollchat-' + (conv ? conv.key : 'request') });
        n.onclick = function () {
          try { window.focus(); } catch (e) { /* ignore */ }
          if (conv) { self.openWindow(conv, true); }
          n.close();
        };
      } catch (e) { /* not allowed from a page (Android) */ }
    }
    if (this.o.titleBlink === false) { return; }
    // The name is looked up at each blink: it may still be on its way.
    if (this.blink) { this.blink.from = m.from; return; }
    this.blink = { orig: document.title, from: m.from, on: false };
    this.blink.timer = setInterval(function () {
      var b = self.blink;
      if (!b) { return; }
      if (!pageHidden()) { return self.stopBlink(); }
      b.on = !b.on;
      title = self.s('newMessage', { name: self.nameOf(b.from) });
      document.title = b.on ? self.s('newMessages', { n: Math.max(1, self.unreadTotal), title: title }) : b.orig;
    }, 1000);
  };

  // askNotify asks for desktop notifications once, and only inside a user
  // action (browsers ignore or punish a request on page load).
  App.prototype.askNotify = function () {
    var N = window.Notification;
    if (this.asked || this.o.notifications === false || !N || N.permission !== 'default' || !N.requestPermission) { return; }
    this.asked = true;
    try { N.requestPermission(); } catch (e) { /* old signature */ }
  };

  App.prototype.stopBlink = function () {
    if (!this.blink) { return; }
    clearInterval(this.blink.timer);
    document.title = this.blink.orig;
    this.blink = null;
  };

  App.prototype.unlockAudio = function () {
    var AC = window.AudioContext || window.webkitAudioContext;
    if (this.audio || !AC || this.o.sound === false) { return; }
    try { this.audio = new AC(); } catch (e) { this.audio = null; }
  };

  App.prototype.beep = function () {
    var ctx = this.audio, osc, gain, t0;
    if (!ctx) { return; }
    try {
      t0 = ctx.currentTime;
      osc = ctx.createOscillator();
      gain = ctx.createGain();
      osc.type = 'sine';
      osc.frequency.setValueAtTime(880, t0);
      osc.frequency.setValueAtTime(1320, t0 + 0.09);
      gain.gain.setValueAtTime(0.0001, t0);
      gain.gain.exponentialRampToValueAtTime(0.15, t0 + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t0 + 0.3);
      osc.connect(gain);
      gain.connect(ctx.destination);
      osc.start(t0);
      osc.stop(t0 + 0.32);
    } catch (e) { /* no sound then */ }
  };

  // ---- presence

  App.prototype.onPresence = function (id, on, quiet) {
    var was = !!this.online[id];
    if (!id || id === this.me || was === on) { return; }
    if (on) { this.online[id] = true; } else { delete this.online[id]; }
    if (!quiet || on) { emit(on ? 'user_connected' : 'user_disconnected', { user_id: id, user: this.users[id] || null }); }
    this.refreshPresence();
    this.renderPeopleSoon();
  };

  App.prototype.refreshPresence = function () {
    var self = this;
    if (!this.$root) { return; }
    this.$root.find('.pollchat-avatar').each(function () {
      $(this).toggleClass('pollchat-is-online', !!self.online[$(this).attr('data-uid')]);
    });
    each(this.convs, function (k, c) {
      if (c.win && c.kind === 'user') { c.win.$sub.text(self.online[c.id] ? self.s('online') : self.s('away')); }
    });
  };

  // ---- the people and rooms lists

  App.prototype.renderPeopleSoon = function () {
    var self = this;
    if (this.peopleTimer) { return; }
    this.peopleTimer = setTimeout(function () {
      self.peopleTimer = null;
      self.renderPeople();
    }, 50);
  };

  App.prototype.renderPeople = function () {
    var $p = this.$people, keep;
    if (!$p) { return; }
    keep = this.focusInList($p);
    $p.empty();
    this.drawPeople($p);
    if (keep) { keep(); }
  };

  // focusInList notes which row button of $list has the focus, if any, and
  // returns a function that gives the focus to the same button of the same
  // row once the list is redrawn: presence and new messages redraw the
  // lists, and a keyboard or screen-reader user must not be thrown back to
  // the top of the page each time.
  App.prototype.focusInList = function ($list) {
    var a = document.activeElement, $row, sel, cls;
    if (!a || !$.contains($list[0], a)) { return null; }
    $row = $(a).closest('.pollchat-row');
    if (!$row.length) { return null; }
    sel = [str($row.attr('data-uid')), str($row.attr('data-room')), str($row.attr('data-notices'))];
    cls = $(a).hasClass('pollchat-row-invite') ? '.pollchat-row-invite' : '.pollchat-row-main';
    return function () {
      var b;
      if ($.contains(document.documentElement, a) && document.activeElement === a) { return; }
      b = $list.find('.pollchat-row').filter(function () {
        var $r = $(this);
        return str($r.attr('data-uid')) === sel[0] && str($r.attr('data-room')) === sel[1] && str($r.attr('data-notices')) === sel[2];
      }).children(cls)[0];
      try { if (b) { b.focus(); } } catch (x) { /* gone */ }
    };
  };

  App.prototype.drawPeople = function ($p) {
    var self = this, convs = [], onlineOnly = [], seen = {}, q = this.query, found = [];
    if (this.$searchHint) { this.$searchHint.text(q ? this.dirHint : ''); }
    if (q) {
      each(this.users, function (id, u) {
        if (id !== self.me && self.nameOf(id).toLowerCase().indexOf(q) >= 0) { found.push(id); }
      });
      found.sort(function (a, b) { return self.nameOf(a).toLowerCase() < self.nameOf(b).toLowerCase() ? -1 : 1; });
      found = found.slice(0, 100);
      // Then the members the directory found, best first, once each.
      if (this.dirFound && this.dirFound.q === q) {
        $.each(this.dirFound.ids, function (i, id) {
          if (id !== self.me && $.inArray(id, found) < 0) { found.push(id); }
        });
      }
      $.each(found, function (i, id) { $p.append(self.personRow(id, own(self.convs, 'user:' + id) ? self.convs['user:' + id] : null)); });
      if (!found.length) { $p.append(el('div', 'pollchat-empty').text(this.dirPending ? this.s('searching') : this.s('noMatch'))); }
      return;
    }
    each(this.convs, function (k, c) {
      if (c.kind !== 'room' && c.id !== self.me && (c.last || c.msgs.length) && !self.isHidden(c)) {
        convs.push(c);
        if (c.kind === 'user') { seen[c.id] = true; }
      }
    });
    convs.sort(function (a, b) {
      var ta = self.lastTime(a), tb = self.lastTime(b);
      return ta !== tb ? tb - ta : self.lastId(b) - self.lastId(a);
    });
    each(this.online, function (id) { if (!own(seen, id) && id !== self.me) { onlineOnly.push(id); } });
    onlineOnly.sort(function (a, b) { return self.nameOf(a).toLowerCase() < self.nameOf(b).toLowerCase() ? -1 : 1; });
    if (convs.length) {
      $p.append(el('div', 'pollchat-section').text(this.s('recent')));
      $.each(convs, function (i, c) { $p.append(c.kind === 'system' ? self.noticesRow(c) : self.personRow(c.id, c)); });
    }
    if (onlineOnly.length) {
      $p.append(el('div', 'pollchat-section').text(this.s('onlineNow')));
      $.each(onlineOnly, function (i, id) { $p.append(self.personRow(id, null)); });
    }
    if (!convs.length && !onlineOnly.length) {
      $p.append(el('div', 'pollchat-empty').text(this.s('nobody')));
    }
  };

  // searchDirectory asks the server's member directory for q, 300 ms after
  // the last key, from 2 characters on; only the answer to the newest query
  // is used. Without a directory, or when it fails, the local search is all.
  App.prototype.searchDirectory = function (q) {
    var self = this, seq = ++this.dirSeq;
    clearTimeout(this.dirTimer);
    this.dirPending = false;
    this.dirHint = '';
    if (this.dirOff || !this.t || q.length < 2 || q.length > 64 || (this.dirFound && this.dirFound.q === q)) { return; }
    this.dirPending = true;
    this.dirTimer = setTimeout(function () {
      self.t.call('directory', { q: q, limit: 20 }, function (err, data) {
        var ids = [];
        if (seq !== self.dirSeq) { return; }
        self.dirPending = false;
        if (err) {
          if (err.code === 'RATE_LIMITED') { self.dirHint = self.s('dirLimited'); }
        } else if (!data || data.supported === false) {
          self.dirOff = true;
        } else {
          $.each($.isArray(data.users) ? data.users : [], function (i, u) {
            if (u && u.user_id != null && ids.length < 20) {
              self.learn(u);
              ids.push(str(u.user_id));
            }
          });
          self.dirFound = { q: q, ids: ids };
        }
        if (self.query === q) { self.renderPeople(); }
      }, 0);
    }, 300);
  };

  App.prototype.lastTime = function (c) {
    var m = c.msgs.length ? c.msgs[c.msgs.length - 1] : c.last, d = m && parseISO(m.ts);
    return d ? d.getTime() : 0;
  };

  App.prototype.lastId = function (c) {
    var m = c.msgs.length ? c.msgs[c.msgs.length - 1] : c.last;
    return m ? +m.id || 0 : 0;
  };

  App.prototype.personRow = function (id, conv) {
    var self = this, last = conv && (conv.msgs.length ? conv.msgs[conv.msgs.length - 1] : conv.last), $row, $main, $text, preview;
    // A row is two sibling buttons (open, invite), never a button in a button.
    $row = el('div', 'pollchat-row').attr('data-uid', id);
    $main = el('button', 'pollchat-row-main').appendTo($row);
    $main.append(this.avatar(id));
    $text = el('span', 'pollchat-row-text').appendTo($main);
    $text.append(el('span', 'pollchat-row-name').append(this.uname(id)).append(this.roleBadge(id)));
    if (last) {
      preview = (str(last.from) === this.me ? this.s('you') + ': ' : '') + str(last.text);
      $text.append(el('span', 'pollchat-row-sub').attr('dir', 'auto').text(preview));
    } else {
      $text.append(el('span', 'pollchat-row-sub').text(this.online[id] ? this.s('online') : this.s('away')));
    }
    if (conv && conv.unread) {
      $row.addClass('pollchat-row-unread');
      $main.append(el('span', 'pollchat-count').text(str(conv.unread)));
    } else {
      $row.append(el('button', 'pollchat-row-invite').attr('title', this.s('invite')).attr('aria-label', this.s('invite'))
        .append(icon('invite')).on('click', function (e) {
          e.stopPropagation();
          self.sendRequest(id, self.s('inviteText'));
        }));
    }
    $main.on('click', function () { self.openDialog(id, true); });
    return $row;
  };

  App.prototype.noticesRow = function (conv) {
    var self = this, last = conv.msgs.length ? conv.msgs[conv.msgs.length - 1] : conv.last, $row, $main;
    $row = el('div', 'pollchat-row pollchat-notices-row').attr('data-notices', '1');
    $main = el('button', 'pollchat-row-main').appendTo($row);
    $main.append(el('span', 'pollchat-avatar pollchat-room-avatar').append(icon('bell')));
    $main.append(el('span', 'pollchat-row-text')
      .append(el('span', 'pollchat-row-name').text(this.s('notices')))
      .append(el('span', 'pollchat-row-sub').attr('dir', 'auto').text(last ? str(last.text) : '')));
    if (conv.unread) {
      $row.addClass('pollchat-row-unread');
      $main.append(el('span', 'pollchat-count').text(str(conv.unread)));
    }
    $main.on('click', function () { self.openWindow(conv, true); });
    return $row;
  };

  // convParams names a conversation in history and read calls.
  App.prototype.convParams = function (conv) {
    if (conv.kind === 'room') { return { room: conv.id }; }
    if (conv.kind === 'system') { return { system: 1 }; }
    return { 'with': conv.id };
  };

  App.prototype.renderRooms = function () {
    var $l = this.$roomList, keep;
    if (!$l) { return; }
    keep = this.focusInList($l);
    $l.empty();
    this.drawRooms($l);
    if (keep) { keep(); }
  };

  App.prototype.drawRooms = function ($l) {
    var self = this;
    if (!this.rooms.length) {
      $l.append(el('div', 'pollchat-empty').text(this.s('noRooms')));
      return;
    }
    $.each(this.rooms, function (i, name) {
      var conv = self.conv('room:' + name), $row, $main, info;
      $row = el('div', 'pollchat-row pollchat-room-row').attr('data-room', str(name));
      $main = el('button', 'pollchat-row-main').appendTo($row);
      $main.append(el('span', 'pollchat-avatar pollchat-room-avatar').append(icon('hash')));
      info = self.roomInfo[name] || {};
      if (info['private']) { $row.addClass('pollchat-room-private').attr('title', self.s('privateRoom')); }
      $main.append(el('span', 'pollchat-row-text')
        .append(el('span', 'pollchat-row-name').attr('dir', 'auto').text(str(info.title || name)))
        .append(el('span', 'pollchat-row-sub').text(conv.memberCount && conv.win ? self.members(conv.memberCount) : self.s('join'))));
      if (conv.unread && conv.win) { $main.append(el('span', 'pollchat-count').text(str(conv.unread))); }
      $main.on('click', function () { self.openRoom(name, true); });
      $l.append($row);
    });
  };

  // ---- windows

  App.prototype.openDialog = function (id, byUser) {
    if (!id) { return null; }
    id = str(id);
    if (id === this.me) { return null; }
    return this.openWindow(this.conv('user:' + id), byUser !== false);
  };

  App.prototype.openRoom = function (name, byUser) {
    var conv = this.conv('room:' + name);
    this.openWindow(conv, byUser !== false);
    return conv;
  };

  App.prototype.openWindow = function (conv, focus) {
    var max;
    if (!conv.win) {
      this.buildWindow(conv);
      this.windows.push(conv);
      max = this.o.mode === 'page' ? 1 : Math.max(1, +this.o.maxWindows || 3);
      while (this.windows.length > max) { this.closeWindow(this.windows[0]); }
      // Counted only now: on a phone the launcher must leave with the first window.
      this.refreshWindowDock();
      if (conv.kind === 'room') { this.joinRoom(conv, false); } else { this.loadHistory(conv, false); }
    }
    if (conv.minimised) { this.minimise(conv, false); }
    this.reveal();
    if (focus) {
      if (!conv.win.returnTo) { conv.win.returnTo = this.focusOutside(conv.win.$el); }
      this.activate(conv);
      conv.win.$input.focus();
    }
    this.updateUnread();
    return conv;
  };

  App.prototype.activate = function (conv) {
    var self = this;
    this.activeKey = conv.key;
    each(this.convs, function (k, c) { if (c.win) { c.win.$el.toggleClass('pollchat-window-active', k === conv.key); } });
    this.markRead(conv);
    // No room for the panel beside a window: the window wins. On a phone
    // only the last window shows: make this one the last.
    if (this.o.mode !== 'page' && $(window).width() < 760) { self.close(); }
    if (this.o.mode !== 'page' && $(window).width() <= 600 && conv.win.$el[0] !== this.$dock.children().last()[0]) {
      conv.win.$el.appendTo(this.$dock);
    }
  };

  App.prototype.buildWindow = function (conv) {
    var self = this, w = {}, $w, $head, $title, $form, room = conv.kind === 'room', notices = conv.kind === 'system', i;
    w.id = 'pollchat-w' + (++winSeq);
    $w = w.$el = el('div', 'pollchat-window' + (room ? ' pollchat-window-room' : '') + (notices ? ' pollchat-window-notices' : '')).attr('data-key', conv.key)
      .attr(room ? 'data-room' : notices ? 'data-notices' : 'data-uid', notices ? '1' : conv.id)
      .attr('role', 'dialog').attr('aria-labelledby', w.id + '-title');
    $head = el('div', 'pollchat-header pollchat-win-head').appendTo($w);
    if (room || notices) {
      $head.append(el('span', 'pollchat-avatar pollchat-room-avatar').append(icon(room ? 'hash' : 'bell')));
    } else {
      w.$who = el('span', 'pollchat-who').append(this.profileLink(conv.id, this.avatar(conv.id), true)).appendTo($head);
    }
    $title = el('div', 'pollchat-head-text').appendTo($head);
    $title.append((room ? el('div', 'pollchat-head-title').attr('dir', 'auto').text(conv.id) : notices ? el('div', 'pollchat-head-title').text(this.s('notices')) :
      el('div', 'pollchat-head-title').append(this.profileLink(conv.id, this.uname(conv.id)))).attr('id', w.id + '-title'));
    w.$sub = el('div', 'pollchat-head-sub').appendTo($title);
    w.$badge = el('span', 'pollchat-badge pollchat-win-badge').hide().appendTo($head);
    if (room) {
      w.$sub.text(this.s('members'));
      el('button', 'pollchat-hbtn pollchat-members-btn').attr('title', this.s('members')).attr('aria-label', this.s('members'))
        .attr('aria-expanded', 'false')
        .append(icon('members')).appendTo($head).on('click', function (e) {
          e.stopPropagation();
          $w.toggleClass('pollchat-show-members');
          $(this).attr('aria-expanded', $w.hasClass('pollchat-show-members') ? 'true' : 'false');
        });
    } else if (!notices) {
      w.$sub.text(this.online[conv.id] ? this.s('online') : this.s('away'));
      w.$block = el('button', 'pollchat-hbtn pollchat-block-btn').attr('aria-pressed', 'false').attr('title', this.s('block'))
        .attr('aria-label', this.s('block')).append(icon('block')).appendTo($head).on('click', function (e) {
        e.stopPropagation();
        self.block(conv.id, !own(self.blocked, conv.id));
      });
    }
    if (this.o.mode !== 'page') {
      el('button', 'pollchat-hbtn pollchat-min-btn').attr('title', this.s('minimise')).attr('aria-label', this.s('minimise'))
        .append(icon('minus')).appendTo($head).on('click', function (e) {
          e.stopPropagation();
          self.minimise(conv, !conv.minimised);
        });
      el('button', 'pollchat-hbtn pollchat-close-btn').attr('title', this.s('close')).attr('aria-label', this.s('close'))
        .append(icon('close')).appendTo($head).on('click', function (e) {
          e.stopPropagation();
          self.closeWindow(conv);
        });
      $head.on('click', function () { if (conv.minimised) { self.minimise(conv, false); self.activate(conv); } });
    }

    w.$conn = el('div', 'pollchat-conn').appendTo($w);
    this.fillConn(w.$conn);

    w.$main = el('div', 'pollchat-win-main').appendTo($w);
    // A log per conversation: screen readers read new messages as they come.
    w.$msgs = el('div', 'pollchat-msgs').attr('role', 'log').attr('aria-live', 'polite').attr('aria-labelledby', w.id + '-title')
      .attr('tabindex', '0').appendTo(w.$main);
    w.$earlier = el('button', 'pollchat-earlier').text(this.s('loadEarlier')).on('click', function () { self.loadHistory(conv, true); });
    w.$start = el('div', 'pollchat-start').text(this.s('start')).hide();
    el('div', 'pollchat-earlier-wrap').append(w.$earlier.hide()).append(w.$start).appendTo(w.$msgs);
    w.$typing = el('div', 'pollchat-typing').attr('aria-hidden', 'true').append(el('span', 'pollchat-dots').append(el('i')).append(el('i')).append(el('i')))
      .append(w.$typingText = el('span', 'pollchat-typing-text')).appendTo(w.$msgs);
    if (room) {
      w.$members = el('div', 'pollchat-members').appendTo(w.$main);
    }

    $form = el('div', 'pollchat-compose').appendTo($w);
    w.$error = el('div', 'pollchat-error').hide().appendTo($form);
    w.$input = $(document.createElement('textarea')).addClass('pollchat-input').attr('rows', '1')
      .attr('maxlength', str(+this.o.maxLength || 350))
      .attr('placeholder', room ? this.s('roomPlaceholder', { room: conv.id }) : this.s('placeholder'))
      .attr('aria-label', this.s('placeholder'))
      .appendTo($form);
    w.$emoji = el('button', 'pollchat-emoji-btn').attr('title', this.s('emoji')).attr('aria-label', this.s('emoji'))
      .attr('aria-expanded', 'false').append(icon('smile')).insertBefore(w.$input);
    w.$picker = el('div', 'pollchat-emoji-picker').attr('role', 'group').attr('aria-label', this.s('emoji')).hide().appendTo($form);
    $.each(EMOJI, function (i, ch) {
      el('button', 'pollchat-emoji').attr('aria-label', ch).text(ch).appendTo(w.$picker).on('click', function () {
        self.insertText(conv, ch);
        w.$picker.hide();
        w.$emoji.attr('aria-expanded', 'false');
      });
    });
    w.$emoji.on('click', function () {
      var on = !w.$picker.is(':visible');
      w.$picker.toggle(on);
      w.$emoji.attr('aria-expanded', on ? 'true' : 'false');
      if (on) { w.$picker.children().first().focus(); }
    });
    w.$send = el('button', 'pollchat-sendbtn').attr('title', this.s('send')).attr('aria-label', this.s('send')).append(icon('send')).appendTo($form);
    w.$send.on('click', function () { self.submit(conv); });
    if (this.o.files) { this.attachControls(conv, w, $form); }
    w.$input.on('keydown', function (e) {
      if (e.which === 13 && !e.shiftKey) {
        e.preventDefault();
        self.submit(conv);
        return;
      }
      self.typing(conv);
    });
    // Enter sends; its keypress must not put a new line in the emptied input.
    w.$input.on('keypress', function (e) {
      if (e.which === 13 && !e.shiftKey) { e.preventDefault(); }
    });
    w.$input.on('input keyup', function () { self.grow(conv); });
    if (this.guest) {
      // A guest reads; the server refuses their sends (AUTH_FAILED).
      w.$input.prop('disabled', true).attr('placeholder', this.s('signInToWrite')).attr('aria-label', this.s('signInToWrite'));
      w.$send.prop('disabled', true);
      w.$emoji.hide();
    }
    $w.on('mousedown focusin', function () {
      if (self.activeKey !== conv.key) { self.activate(conv); } else { self.markRead(conv); }
    });
    conv.win = w;
    if (this.o.mode === 'page') { $w.addClass('pollchat-window-page'); }
    $w.appendTo(this.$dock);
    for (i = 0; i < conv.msgs.length; i++) { this.drawMessage(conv, conv.msgs[i]); }
    this.drawBlock(conv);
    this.refreshWindowDock();
  };

  // insertText puts text at the caret of a window's input.
  App.prototype.insertText = function (conv, text) {
    var e = conv.win.$input[0], v = e.value, a = typeof e.selectionStart === 'number' ? e.selectionStart : v.length,
      b = typeof e.selectionEnd === 'number' ? e.selectionEnd : v.length;
    e.value = v.slice(0, a) + text + v.slice(b);
    e.focus();
    if (e.setSelectionRange) { e.setSelectionRange(a + text.length, a + text.length); }
    this.grow(conv);
  };

  App.prototype.grow = function (conv) {
    var e = conv.win.$input[0];
    if (!e.value) {
      e.style.height = '';
      return;
    }
    e.style.height = 'auto';
    e.style.height = Math.min(e.scrollHeight + 2, 120) + 'px';
  };

  App.prototype.minimise = function (conv, on) {
    conv.minimised = !!on;
    conv.win.$el.toggleClass('pollchat-minimised', conv.minimised);
    if (!on) {
      this.scrollDown(conv);
      if (this.activeKey === conv.key) { this.markRead(conv); }
    }
  };

  App.prototype.closeWindow = function (conv) {
    var i, back = null;
    if (!conv.win) { return; }
    if ($.contains(conv.win.$el[0], document.activeElement)) { back = conv.win.returnTo || this.$launcher || null; }
    conv.win.$el.remove();
    conv.win = null;
    conv.minimised = false;
    for (i = 0; i < this.windows.length; i++) {
      if (this.windows[i] === conv) { this.windows.splice(i, 1); break; }
    }
    if (this.activeKey === conv.key) { this.activeKey = null; }
    if (conv.win === null && back) { this.restoreFocus(back); }
    if (conv.kind === 'room') {
      this.t.call('leave', { room: conv.id }, null, 1);
      conv.msgs = []; conv.byId = {}; conv.byClient = {}; conv.members = {}; conv.loaded = false; conv.hasMore = true;
    }
    this.refreshWindowDock();
    this.updateUnread();
  };

  App.prototype.refreshWindowDock = function () {
    if (this.$root) { this.$root.toggleClass('pollchat-has-windows', this.windows.length > 0); }
  };

  // ---- history and rooms

  App.prototype.loadHistory = function (conv, earlier) {
    var self = this, params = { limit: +this.o.historyPage || 30 }, w = conv.win, oldest;
    if (!w || conv.loadingHistory) { return; }
    mix(params, this.convParams(conv));
    if (earlier) {
      oldest = conv.msgs.length ? conv.msgs[0].id : 0;
      if (oldest) { params.before = oldest; }
    }
    conv.loadingHistory = true;
    w.$earlier.text(this.s('loading'));
    this.t.call('history', params, function (err, data) {
      var i, list, e, before;
      conv.loadingHistory = false;
      if (!conv.win) { return; }
      w.$earlier.text(self.s('loadEarlier'));
      if (err) { return self.showError(conv, err); }
      list = data.messages || [];
      e = w.$msgs[0];
      before = e.scrollHeight - e.scrollTop;
      for (i = 0; i < list.length; i++) { self.addMessage(conv, list[i]); }
      if (earlier || !conv.loaded) {
        conv.hasMore = !!data.has_more;
      }
      conv.loaded = true;
      w.$earlier.toggle(conv.hasMore);
      w.$start.toggle(!conv.hasMore);
      if (earlier) { e.scrollTop = e.scrollHeight - before; } else { self.scrollDown(conv); }
      self.drawSeen(conv);
      if (self.isActive(conv)) { self.markRead(conv); }
      self.renderPeopleSoon();
    });
  };

  App.prototype.joinRoom = function (conv, again) {
    var self = this;
    this.t.call('join', { room: conv.id }, function (err, data) {
      var r, i, list;
      if (!conv.win) { return; }
      if (err) { return self.showError(conv, err); }
      r = data.room || {};
      conv.members = {};
      conv.memberCount = 0;
      each(r.users || {}, function (id, u) {
        u.user_id = str(u.user_id || id);
        self.learn(u);
        conv.members[u.user_id] = u;
        conv.memberCount++;
      });
      if (typeof r.count === 'number') { conv.memberCount = r.count; }
      conv.mutes = r.mutes || {};
      list = r.history || [];
      for (i = 0; i < list.length; i++) { self.addMessage(conv, list[i]); }
      if (!again) {
        conv.hasMore = list.length > 0;
        conv.win.$earlier.toggle(conv.hasMore);
        conv.win.$start.toggle(!conv.hasMore);
        self.scrollDown(conv);
      }
      self.renderMembers(conv);
      self.renderRooms();
      if (self.canModerate(conv)) { self.systemLine(conv, self.s('modHint')); }
    });
  };

  // ---- blocking

  App.prototype.loadBlocked = function () {
    var self = this;
    this.t.call('block', {}, function (err, data) {
      var i, list = (!err && data && data.blocked) || [];
      if (err) { return; }
      self.blocked = {};
      for (i = 0; i < list.length; i++) { self.blocked[str(list[i])] = true; }
      each(self.convs, function (k, c) { self.drawBlock(c); });
    }, 1);
  };

  App.prototype.block = function (id, on) {
    var self = this;
    this.t.call('block', { user_id: id, block: on ? 1 : 0 }, function (err, data) {
      var i, list, conv = self.conv('user:' + id);
      if (err) { return self.showError(conv, err); }
      list = (data && data.blocked) || [];
      self.blocked = {};
      for (i = 0; i < list.length; i++) { self.blocked[str(list[i])] = true; }
      self.drawBlock(conv);
      self.systemLine(conv, self.s(on ? 'blocked' : 'unblocked', { name: self.nameOf(id) }));
      emit(on ? 'user_blocked' : 'user_unblocked', { user_id: id });
    }, 1);
  };

  App.prototype.drawBlock = function (conv) {
    var on;
    if (!conv.win || !conv.win.$block) { return; }
    on = own(this.blocked, conv.id);
    conv.win.$block.attr('aria-pressed', on ? 'true' : 'false').attr('title', this.s(on ? 'unblock' : 'block'))
      .attr('aria-label', this.s(on ? 'unblock' : 'block'));
    conv.win.$el.toggleClass('pollchat-blocked', on);
  };

  App.prototype.canModerate = function (conv) {
    var u = conv.members[this.me] || this.users[this.me] || {};
    return u.role === 'admin' || u.role === 'mod' || u.role === 'owner';
  };

  App.prototype.renderMembers = function (conv) {
    var self = this, $m, ids = [];
    if (!conv.win || !conv.win.$members) { return; }
    $m = conv.win.$members.empty();
    $m.append(el('div', 'pollchat-section').text(this.s('members') + ' · ' + conv.memberCount));
    each(conv.members, function (id) { ids.push(id); });
    ids.sort(function (a, b) {
      var ra = self.rank(conv, a), rb = self.rank(conv, b);
      if (ra !== rb) { return ra - rb; }
      return self.nameOf(a).toLowerCase() < self.nameOf(b).toLowerCase() ? -1 : 1;
    });
    $.each(ids, function (i, id) {
      var $row = el(id !== self.me ? 'button' : 'div', 'pollchat-member').attr('data-uid', id);
      $row.append(self.avatar(id, true)).append(self.uname(id)).append(self.roleBadge(id, conv));
      if (own(conv.mutes, id)) { $row.addClass('pollchat-member-muted').append(el('span', 'pollchat-muted-tag').text('muted')); }
      if (id !== self.me) {
        $row.on('click', function () { self.openDialog(id, true); });
      }
      $m.append($row);
    });
    conv.win.$sub.text(this.members(conv.memberCount));
    this.renderRooms();
  };

  App.prototype.members = function (n) {
    return n === 1 ? this.s('memberOne') : this.s('memberCount', { n: n });
  };

  App.prototype.rank = function (conv, id) {
    var r = ((conv.members[id] || {}).role) || '';
    return r === 'owner' ? 0 : r === 'admin' ? 1 : r === 'mod' ? 2 : 3;
  };

  // ---- sending

  App.prototype.submit = function (conv) {
    var text = trim(conv.win.$input.val());
    if (!text) { return; }
    this.askNotify();
    if (this.send(conv, text)) {
      conv.win.$input.val('');
      this.grow(conv);
    }
  };

  App.prototype.send = function (conv, text) {
    var self = this, max = +this.o.maxLength || 350, cid, params, m, $m;
    text = trim(text);
    if (!text) { return false; }
    if (text.length > max) {
      this.showError(conv, { message: this.s('tooLong', { n: max }) });
      return false;
    }
    if (conv.kind === 'room' && conv.mutedUntil > now() && text.charAt(0) !== '/') {
      this.showError(conv, { code: 'MUTED' });
      return false;
    }
    cid = randomId();
    params = conv.kind === 'room' ? { room: conv.id, text: text, client_id: cid } : { to: conv.id, text: text, client_id: cid };
    m = { id: null, from: this.me, text: text, ts: new Date().toISOString ? new Date().toISOString() : '', client_id: cid };
    if (conv.kind === 'room') { m.room = conv.id; } else { m.to = conv.id; }
    $m = null;
    if (conv.win) {
      $m = this.messageEl(conv, m).addClass('pollchat-pending');
      $m.find('.pollchat-state').text(this.s('sending'));
      conv.win.$typing.before($m);
      this.group(conv);
      this.scrollDown(conv);
    }
    conv.byClient[cid] = $m;
    this.transmit(conv, params, $m);
    return true;
  };

  // transmit queues a send. Until the server answers, the send is kept in
  // localStorage (a reload sends it again, with the same client_id); after
  // 10 s it can be retried now or cancelled.
  App.prototype.transmit = function (conv, params, $m) {
    var self = this, item, stuck;
    this.keepUnsent(conv, params);
    item = this.t.queue('send', params, function (err, data) {
      clearTimeout(stuck);
      self.dropUnsent(params.client_id);
      if (err) {
        if ($m) {
          self.sendState($m, self.s('failed'), [[self.s('retry'), 'pollchat-retry', function () {
            $m.removeClass('pollchat-failed');
            self.sendState($m, self.s('sending'), []);
            self.transmit(conv, params, $m);
          }]]);
          $m.addClass('pollchat-failed');
        }
        self.showError(conv, err);
        return;
      }
      if ($m) { $m.removeClass('pollchat-stuck'); }
      if (data && data.message) {
        self.confirm(conv, $m, data.message);
      } else {
        // a room command: its feedback comes as a system message
        if ($m) { $m.remove(); }
        delete conv.byClient[params.client_id];
      }
    });
    if ($m) {
      stuck = setTimeout(function () {
        if (!$m.hasClass('pollchat-pending') || $m.hasClass('pollchat-failed')) { return; }
        $m.addClass('pollchat-stuck');
        self.sendState($m, self.s('stuck'), [
          [self.s('retry'), 'pollchat-retry', function () { self.t.retryNow(); }],
          [self.s('cancel'), 'pollchat-cancel', function () {
            if (!self.t.cancel(item)) { return; }
            clearTimeout(stuck);
            self.dropUnsent(params.client_id);
            delete conv.byClient[params.client_id];
            $m.remove();
            if (conv.win) { conv.win.$input.focus(); }
          }]
        ]);
      }, +this.o.stuckAfter || 10000);
    }
  };

  // sendState writes a pending bubble's state line with real buttons.
  App.prototype.sendState = function ($m, text, buttons) {
    var $s = $m.find('.pollchat-state').empty().text(text), i;
    for (i = 0; i < buttons.length; i++) {
      (function (b) {
        $s.append(document.createTextNode(' '));
        el('button', 'pollchat-state-btn ' + b[1]).text(b[0]).on('click', function (e) { e.stopPropagation(); b[2](); }).appendTo($s);
      }(buttons[i]));
    }
  };

  // The unsent queue, per server and user, in localStorage.
  App.prototype.unsentKey = function () { return 'pollchat:unsent:' + this.o.server + '|' + this.me; };

  App.prototype.readUnsent = function () {
    var v;
    if (!this.me || !storageOK()) { return []; }
    try { v = window.JSON.parse(window.localStorage.getItem(this.unsentKey()) || '[]'); } catch (e) { v = []; }
    return v && v.length ? v : [];
  };

  App.prototype.writeUnsent = function (list) {
    if (!this.me || !storageOK()) { return; }
    try {
      if (list.length) { window.localStorage.setItem(this.unsentKey(), window.JSON.stringify(list)); } else { window.localStorage.removeItem(this.unsentKey()); }
    } catch (e) { /* full or blocked */ }
  };

  App.prototype.keepUnsent = function (conv, params) {
    var list = this.readUnsent(), i;
    for (i = 0; i < list.length; i++) { if (list[i].params.client_id === params.client_id) { return; } }
    list.push({ key: conv.key, params: params, ts: now() });
    this.writeUnsent(list.slice(-50));
  };

  App.prototype.dropUnsent = function (cid) {
    var list = this.readUnsent(), out = [], i;
    for (i = 0; i < list.length; i++) { if (list[i].params.client_id !== cid) { out.push(list[i]); } }
    if (out.length !== list.length) { this.writeUnsent(out); }
  };

  // resendUnsent sends again what a previous page left unsent (a day at most):
  // the server drops repeats by client_id.
  App.prototype.resendUnsent = function () {
    var list = this.readUnsent(), i, u, conv, m, $m;
    for (i = 0; i < list.length; i++) {
      u = list[i];
      if (!u || !u.params || !u.params.client_id || now() - (+u.ts || 0) > 86400000 || !/^(user|room):/.test(str(u.key))) { this.dropUnsent(u && u.params && u.params.client_id); continue; }
      conv = this.conv(u.key);
      if (own(conv.byClient, u.params.client_id)) { continue; }
      if (!conv.win && conv.kind === 'user') { this.openWindow(conv, false); }
      $m = null;
      if (conv.win) {
        m = { id: null, from: this.me, text: str(u.params.text), ts: new Date(+u.ts).toISOString ? new Date(+u.ts).toISOString() : '', client_id: u.params.client_id };
        $m = this.messageEl(conv, m).addClass('pollchat-pending');
        $m.find('.pollchat-state').text(this.s('sending'));
        conv.win.$typing.before($m);
      }
      conv.byClient[u.params.client_id] = $m;
      this.transmit(conv, u.params, $m);
    }
  };

  // confirm turns a pending bubble into the stored message (once, whichever
  // comes first: the send answer or our own message event).
  App.prototype.confirm = function (conv, $m, msg) {
    var known = own(conv.byId, msg.id);
    delete conv.byClient[msg.client_id];
    if (known) {
      // drawn already (the echo or history came first): drop the extra bubble
      if ($m && $m.attr('data-id') !== str(msg.id)) { $m.remove(); }
      return;
    }
    conv.byId[msg.id] = msg;
    conv.msgs.push(msg);
    conv.msgs.sort(function (a, b) { return a.id - b.id; });
    conv.last = msg;
    this.unhide(conv, msg.id);
    if ($m && conv.win) {
      $m.removeClass('pollchat-pending pollchat-failed').attr('data-id', str(msg.id));
      $m.find('.pollchat-state').text('');
      $m.find('.pollchat-time').text(clock(msg.ts));
      this.drawSeen(conv);
    } else if (conv.win) {
      this.drawMessage(conv, msg);
    }
    emit('message_sent', msg);
    this.renderPeopleSoon();
  };

  App.prototype.showError = function (conv, err) {
    var text = err.code && own(this.strings, 'err_' + err.code) ? this.s('err_' + err.code) : (err.message || this.s('error', { message: err.code }));
    if (!conv || !conv.win) { return this.toast(text); }
    clearTimeout(conv.errTimer);
    conv.win.$error.text(text).show();
    conv.errTimer = setTimeout(function () { if (conv.win) { conv.win.$error.hide(); } }, 5000);
  };

  App.prototype.typing = function (conv) {
    var t = now();
    if (conv.lastTyping && t - conv.lastTyping < 3000) { return; }
    conv.lastTyping = t;
    this.t.call('typing', conv.kind === 'room' ? { room: conv.id } : { to: conv.id }, null, 0);
  };

  App.prototype.onTyping = function (ev) {
    var self = this, from = str(ev.from), conv;
    if (from === this.me) { return; }
    conv = ev.room != null ? this.conv('room:' + ev.room) : this.conv('user:' + from);
    emit('typing_started', { from: from, to: ev.to, room: ev.room });
    if (!conv.win) { return; }
    conv.win.$typingText.text(this.s('typing', { name: this.nameOf(from) }));
    if (!conv.win.$typing.hasClass('pollchat-typing-on')) { this.announce(this.s('typing', { name: this.nameOf(from) })); }
    conv.win.$typing.addClass('pollchat-typing-on');
    if (this.nearBottom(conv)) { this.scrollDown(conv); }
    clearTimeout(conv.typingTimer);
    conv.typingTimer = setTimeout(function () { self.stopTyping(conv); }, 6000);
  };

  App.prototype.stopTyping = function (conv) {
    clearTimeout(conv.typingTimer);
    if (conv.win) { conv.win.$typing.removeClass('pollchat-typing-on'); }
  };

  // ---- chat requests

  App.prototype.sendRequest = function (id, text) {
    var self = this;
    id = str(id);
    this.t.queue('request', { to: id, text: text || this.s('inviteText') }, function (err) {
      if (err) { return self.toast(self.s('error', { message: err.message || err.code })); }
      self.toast(self.s('requestSent', { name: self.nameOf(id) }));
      emit('chat_request_sent', { to: id });
    });
  };

  App.prototype.showRequest = function (r, quiet) {
    var self = this, from = r.from, id, $card, $actions, rid;
    if (!from) { return; }
    if (typeof from === 'object') { this.learn(from); id = str(from.user_id); } else { id = str(from); }
    if (own(this.requests, id)) { this.requests[id].$card.find('.pollchat-request-text').text(str(r.text)); return; }
    rid = 'pollchat-r' + (++winSeq);
    $card = el('div', 'pollchat-request').attr('data-uid', id).attr('role', 'alertdialog').attr('tabindex', '-1')
      .attr('aria-labelledby', rid + '-t').attr('aria-describedby', rid + '-f ' + rid + '-x');
    $card.append(el('div', 'pollchat-request-head')
      .append(this.avatar(id))
      .append(el('div', 'pollchat-request-who')
        .append(el('div', 'pollchat-request-title').attr('id', rid + '-t').text(this.s('requestTitle')))
        .append(el('div', 'pollchat-request-from').attr('id', rid + '-f').append(this.uname(id)))));
    $card.append(el('div', 'pollchat-request-text').attr('id', rid + '-x').attr('dir', 'auto').text(str(r.text)).toggle(!!r.text));
    $actions = el('div', 'pollchat-request-actions').appendTo($card);
    el('button', 'pollchat-btn pollchat-btn-secondary pollchat-reject').text(this.s('reject')).appendTo($actions)
      .on('click', function () { self.answer(id, false); });
    el('button', 'pollchat-btn pollchat-btn-primary pollchat-accept').text(this.s('accept')).appendTo($actions)
      .on('click', function () { self.answer(id, true); });
    this.requests[id] = { request: r, $card: $card };
    this.$requests.append($card);
    if (!quiet) {
      this.reveal();
      this.requestReturn = this.requestReturn || this.focusOutside(this.$requests);
      $card.focus();
      emit('chat_request', { from: id, user: this.users[id] || null, text: str(r.text), ts: r.ts });
      if (pageHidden()) { this.notify(null, { from: id }); }
    }
  };

  App.prototype.answer = function (id, accept) {
    var self = this, req = this.requests[id];
    if (!req) { return; }
    req.$card.addClass('pollchat-request-done');
    this.t.queue('answer', { from: id, accept: accept ? 1 : 0 }, function (err) {
      if (err && err.code !== 'NOT_FOUND') {
        req.$card.removeClass('pollchat-request-done');
        return self.toast(self.s('error', { message: err.message || err.code }));
      }
      if ($.contains(req.$card[0], document.activeElement) && !accept) { self.restoreFocus(self.requestReturn); }
      req.$card.remove();
      delete self.requests[id];
      self.requestReturn = null;
      if (accept) { self.openDialog(id, true); }
      emit('chat_request_answered', { from: id, accepted: !!accept });
    });
  };

  App.prototype.onAnswer = function (ev) {
    var id = str(ev.from), ok = ev.accepted === true || ev.accepted === 1 || ev.accepted === '1' || ev.accepted === 'true';
    this.toast(this.s(ok ? 'accepted' : 'rejected', { name: this.nameOf(id) }), ok ? 'ok' : 'no');
    // Open the conversation, but leave the keyboard focus where it is.
    if (ok) { this.openDialog(id, false); }
    emit('chat_answer', { from: id, accepted: ok });
  };

  // ---- hidden mode

  App.prototype.noLauncher = function () { return !!(this.$root && this.$root.hasClass('pollchat-no-launcher')); };

  // reveal shows a widget started hidden (no launcher) when a conversation
  // needs it: openDialog, composeMessage, an incoming message or request.
  App.prototype.reveal = function () {
    if (!this.noLauncher() || !this.$root.hasClass('pollchat-hidden')) { return; }
    this.$root.removeClass('pollchat-hidden');
    emit('show');
  };

  // ---- removed conversations

  // newestId is the id of the newest message known in a conversation.
  App.prototype.newestId = function (c) {
    var a = c.msgs.length ? +c.msgs[c.msgs.length - 1].id || 0 : 0, b = c.last ? +c.last.id || 0 : 0;
    return Math.max(a, b);
  };

  App.prototype.isHidden = function (c) {
    return c.kind === 'user' && own(this.hidden, c.id) && this.newestId(c) <= this.hidden[c.id];
  };

  // unhide brings a removed conversation back when a newer message comes.
  App.prototype.unhide = function (c, id) {
    if (c.kind !== 'user' || !own(this.hidden, c.id) || +id <= this.hidden[c.id]) { return; }
    delete this.hidden[c.id];
    this.saveHidden(c.id, null);
  };

  // The local list (the server has no /v1/hide yet): per server and user.
  App.prototype.hiddenKey = function () { return 'pollchat:hidden:' + this.o.server + '|' + this.me; };

  App.prototype.loadHidden = function () {
    var self = this, v;
    if (!this.me || !storageOK()) { return; }
    try { v = window.JSON.parse(window.localStorage.getItem(this.hiddenKey()) || '{}'); } catch (e) { v = {}; }
    each(v || {}, function (id, upto) {
      if (typeof upto === 'number' && !own(self.hidden, id)) { self.hidden[id] = upto; }
    });
  };

  // saveHidden writes one entry (upto null removes it).
  App.prototype.saveHidden = function (id, upto) {
    var v, key = this.hiddenKey();
    if (!this.me || !storageOK()) { return; }
    try {
      v = window.JSON.parse(window.localStorage.getItem(key) || '{}') || {};
      if (upto === null) {
        if (!own(v, id)) { return; }
        delete v[id];
      } else {
        v[id] = upto;
      }
      if (window.JSON.stringify(v) === '{}') { window.localStorage.removeItem(key); } else { window.localStorage.setItem(key, window.JSON.stringify(v)); }
    } catch (e) { /* full or blocked */ }
  };

  // removeChat hides the conversation with id until a newer message: on the
  // server (/v1/hide), or in localStorage when the server has no such
  // endpoint (NOT_FOUND) or cannot be reached. done({user_id, kept}).
  App.prototype.removeChat = function (id, done) {
    var self = this, conv, upto, params;
    id = str(id);
    if (!id || id === this.me) { return done({ user_id: id, kept: null }); }
    conv = this.conv('user:' + id);
    upto = this.newestId(conv);
    if (conv.win) { this.closeWindow(conv); }
    this.hidden[id] = upto;
    if (conv.unread) {
      conv.unread = 0;
      if (upto) { this.t.call('read', { 'with': id, upto: upto }, null, 2); }
    }
    this.renderPeople();
    this.updateUnread();
    params = { 'with': id };
    if (upto) { params.upto = upto; }
    this.t.call('hide', params, function (err) {
      var kept = err ? 'local' : 'server';
      if (err && own(self.hidden, id) && self.hidden[id] === upto) { self.saveHidden(id, upto); }
      if (!err) { self.saveHidden(id, null); }
      emit('chat_removed', { user_id: id, kept: kept });
      done({ user_id: id, kept: kept });
    }, 2);
  };

  // ---- what the API reads

  // chats lists the conversations, newest first, with their last message
  // and unread count (removed ones left out).
  App.prototype.chats = function () {
    var self = this, out = [];
    each(this.convs, function (k, c) {
      var m = c.msgs.length ? c.msgs[c.msgs.length - 1] : null, o;
      if (c.last && (!m || +c.last.id > +m.id)) { m = c.last; }
      if (!m || m.id == null || self.isHidden(c) || (c.kind === 'user' && c.id === self.me)) { return; }
      o = { type: c.kind, unread: c.unread, last_message: mix({}, m) };
      if (c.kind === 'user') {
        o.user_id = c.id;
        o.user = self.users[c.id] ? mix({}, self.users[c.id]) : { user_id: c.id };
        o.online = !!self.online[c.id];
      } else if (c.kind === 'room') {
        o.room = c.id;
      }
      out.push(o);
    });
    out.sort(function (a, b) {
      var ta = parseISO(a.last_message.ts), tb = parseISO(b.last_message.ts);
      ta = ta ? ta.getTime() : 0;
      tb = tb ? tb.getTime() : 0;
      return ta !== tb ? tb - ta : b.last_message.id - a.last_message.id;
    });
    return out;
  };

  // unreadMessages fetches the unread messages of every conversation that
  // counts towards the unread total (at most 100 per conversation), oldest
  // first. done(list).
  App.prototype.unreadMessages = function (done) {
    var self = this, convs = [], out = [], left;
    each(this.convs, function (k, c) {
      if (c.unread > 0 && (c.kind !== 'room' || c.win) && !self.isHidden(c)) { convs.push(c); }
    });
    left = convs.length;
    if (!left) { return done([]); }
    $.each(convs, function (i, c) {
      var n = Math.min(c.unread, 100);
      self.t.call('history', mix({ limit: 100 }, self.convParams(c)), function (err, data) {
        var list = (!err && data && data.messages) || c.msgs, j, got = [];
        for (j = list.length - 1; j >= 0 && got.length < n; j--) {
          if (list[j] && list[j].id != null && str(list[j].from) !== self.me) { got.unshift(mix({}, list[j])); }
        }
        out = out.concat(got);
        if (--left === 0) {
          out.sort(function (a, b) { return a.id - b.id; });
          done(out);
        }
      });
    });
  };

  // usersStatus lists everyone the widget knows but the visitor, online
  // first, then by name.
  App.prototype.usersStatus = function () {
    var self = this, out = [];
    each(this.users, function (id, u) {
      if (id === self.me) { return; }
      out.push({ user_id: id, name: str(u.name), status: self.online[id] ? 'online' : 'offline' });
    });
    each(this.online, function (id) {
      if (id !== self.me && !own(self.users, id)) { out.push({ user_id: id, name: '', status: 'online' }); }
    });
    out.sort(function (a, b) {
      if (a.status !== b.status) { return a.status === 'online' ? -1 : 1; }
      return a.name.toLowerCase() < b.name.toLowerCase() ? -1 : a.name.toLowerCase() > b.name.toLowerCase() ? 1 : 0;
    });
    return out;
  };

  // ---- reports

  // reportButton is the per-message action that opens the report dialog: a
  // real button, reached with Tab, shown on touch without hover.
  App.prototype.reportButton = function (conv, m) {
    var self = this, id = str(m.id), done = own(this.reportedIds, id);
    return el('button', 'pollchat-report-btn' + (done ? ' pollchat-reported' : ''))
      .attr('type', 'button').attr('data-mid', id)
      .attr('title', done ? this.s('reported') : this.s('report'))
      .attr('aria-label', done ? this.s('reported') : this.s('reportMsg', { name: this.nameOf(m.from) }))
      .append(icon('flag'))
      .on('click', function (e) {
        e.stopPropagation();
        self.openReport(conv, m, this);
      });
  };

  // openReport shows the report dialog for message m: named, modal, the
  // focus inside it until Send, Cancel or Escape gives it back.
  App.prototype.openReport = function (conv, m, from) {
    var self = this, r, rid = 'pollchat-rp' + (++winSeq), $box, $actions;
    if (this.report) { this.closeReport(); }
    r = this.report = { conv: conv, m: m, back: from || document.activeElement, busy: false };
    r.$el = el('div', 'pollchat-modal').on('mousedown', function (e) { if (e.target === this) { e.preventDefault(); } });
    $box = el('div', 'pollchat-report').attr('role', 'dialog').attr('aria-modal', 'true')
      .attr('aria-labelledby', rid + '-t').attr('aria-describedby', rid + '-q').appendTo(r.$el);
    el('h2', 'pollchat-report-title').attr('id', rid + '-t').text(this.s('reportTitle')).appendTo($box);
    el('div', 'pollchat-report-quote').attr('id', rid + '-q')
      .append(el('span', 'pollchat-report-who').text(this.nameOf(m.from) + ': '))
      .append(el('span').attr('dir', 'auto').text(str(m.text)))
      .appendTo($box);
    $('<label>').addClass('pollchat-report-label').attr('for', rid + '-r').text(this.s('reportReason')).appendTo($box);
    r.$reason = $(document.createElement('textarea')).addClass('pollchat-report-reason').attr('id', rid + '-r')
      .attr('rows', '3').attr('maxlength', '500').attr('aria-describedby', rid + '-h ' + rid + '-e').appendTo($box);
    el('div', 'pollchat-report-hint').attr('id', rid + '-h').text(this.s('reportHint')).appendTo($box);
    r.$error = el('div', 'pollchat-report-error').attr('id', rid + '-e').attr('role', 'alert').appendTo($box);
    $actions = el('div', 'pollchat-request-actions').appendTo($box);
    r.$cancel = el('button', 'pollchat-btn pollchat-btn-secondary pollchat-report-cancel').attr('type', 'button').text(this.s('cancel'))
      .on('click', function () { self.closeReport(); }).appendTo($actions);
    r.$send = el('button', 'pollchat-btn pollchat-btn-primary pollchat-report-send').attr('type', 'button').text(this.s('send'))
      .on('click', function () { self.sendReport(); }).appendTo($actions);
    // Escape closes this dialog only (not the window under it); Tab stays inside.
    r.$el.on('keydown', function (e) {
      var $f, first, last;
      if (e.which === 27) {
        e.preventDefault();
        e.stopPropagation();
        self.closeReport();
        return;
      }
      if (e.which === 9) {
        $f = $box.find('textarea, button').filter(':visible:not(:disabled)');
        first = $f[0];
        last = $f[$f.length - 1];
        if (e.shiftKey && document.activeElement === first) { e.preventDefault(); last.focus(); } else if (!e.shiftKey && document.activeElement === last) { e.preventDefault(); first.focus(); }
      }
      e.stopPropagation();
    });
    r.$el.appendTo(this.$root);
    this.reveal();
    r.$reason.focus();
  };

  App.prototype.closeReport = function () {
    var r = this.report, back, $b;
    if (!r) { return; }
    this.report = null;
    r.$el.remove();
    back = r.back;
    // The message may have been redrawn meanwhile: find its button again.
    if (back && !$.contains(document.documentElement, back) && r.conv.win) {
      $b = r.conv.win.$msgs.find('.pollchat-report-btn').filter(function () { return $(this).attr('data-mid') === str(r.m.id); });
      back = $b[0] || (r.conv.win.$input && r.conv.win.$input[0]);
    }
    this.restoreFocus(back);
  };

  // sendReport files the report: /v1/report with the message, its
  // conversation and the reason. Errors stay in the dialog.
  App.prototype.sendReport = function () {
    var self = this, r = this.report, reason, params;
    if (!r || r.busy) { return; }
    reason = trim(r.$reason.val());
    if (!reason) {
      r.$error.text(this.s('reportEmpty'));
      r.$reason.focus();
      return;
    }
    if (reason.length > 500) {
      r.$error.text(this.s('tooLong', { n: 500 }));
      r.$reason.focus();
      return;
    }
    r.busy = true;
    r.$send.attr('aria-disabled', 'true').addClass('pollchat-busy');
    r.$error.text('');
    params = mix({ message_id: str(r.m.id), reason: reason }, this.convParams(r.conv));
    this.t.call('report', params, function (err) {
      var text, id = str(r.m.id);
      r.busy = false;
      r.$send.removeAttr('aria-disabled').removeClass('pollchat-busy');
      if (!err) {
        self.reportedIds[id] = true;
        if (r.conv.win) {
          r.conv.win.$msgs.find('.pollchat-report-btn').filter(function () { return $(this).attr('data-mid') === id; })
            .addClass('pollchat-reported').attr('title', self.s('reported')).attr('aria-label', self.s('reported'));
        }
        if (self.report === r) { self.closeReport(); }
        self.toast(self.s('reportSent'), 'ok');
        emit('message_reported', { message_id: r.m.id, from: str(r.m.from) });
        return;
      }
      if (self.report !== r) { return; }
      text = err.code === 'RATE_LIMITED' ? self.s('reportLimit') :
        err.code === 'FORBIDDEN' ? self.s('reportForbidden') :
        err.code === 'NOT_FOUND' ? self.s('reportGone') :
        isNetworkError(err) ? self.s('reportFailed') :
        self.s('error', { message: str(err.message || err.code) });
      r.$error.text(text);
    }, 1);
  };

  // ---- toasts

  App.prototype.toast = function (text, kind) {
    var $t = el('div', 'pollchat-toast' + (kind ? ' pollchat-toast-' + kind : '')).text(text);
    this.$toasts.append($t);
    setTimeout(function () { $t.addClass('pollchat-toast-out'); }, 5000);
    setTimeout(function () { $t.remove(); }, 5600);
  };

  // ---- panel

  // open shows the panel; byUser (a click or a key) also moves the focus
  // into it, remembering where it was.
  App.prototype.open = function (byUser) {
    if (!this.$panel) { return; }
    this.$root.addClass('pollchat-open').removeClass('pollchat-hidden');
    this.$launcher.attr('aria-expanded', 'true').attr('aria-label', this.s('closeChat')).attr('title', this.s('closeChat'));
    this.renderPeople();
    if (byUser) {
      this.panelReturn = this.focusOutside(this.$panel);
      (this.$tabRooms.hasClass('pollchat-tab-on') ? this.$tabRooms : this.$tabPeople).focus();
    }
    emit('open');
  };

  App.prototype.close = function () {
    var back;
    if (!this.$panel) { return; }
    back = $.contains(this.$panel[0], document.activeElement) ? (this.panelReturn || this.$launcher) : null;
    this.$root.removeClass('pollchat-open');
    this.$launcher.attr('aria-expanded', 'false').attr('aria-label', this.s('openChat')).attr('title', this.s('openChat'));
    this.panelReturn = null;
    if (back) { this.restoreFocus(back); }
    emit('close');
  };

  App.prototype.toggle = function (byUser) {
    if (this.$root.hasClass('pollchat-open')) { this.close(); } else { this.open(byUser); }
  };

  // focusOutside is the focused element when it is not inside $box.
  App.prototype.focusOutside = function ($box) {
    var a = document.activeElement;
    if (!a || a === document.body || $.contains($box[0], a)) { return null; }
    return a;
  };

  App.prototype.restoreFocus = function (elem) {
    var e = elem && elem.jquery ? elem[0] : elem, $row, sel;
    // The lists are redrawn as messages come: find the same row again.
    if (e && !$.contains(document.documentElement, e) && $(e).hasClass('pollchat-row-main') && this.$root) {
      $row = $(e).parent();
      sel = [str($row.attr('data-uid')), str($row.attr('data-room')), str($row.attr('data-notices'))];
      e = this.$root.find('.pollchat-row').filter(function () {
        var $r = $(this);
        return str($r.attr('data-uid')) === sel[0] && str($r.attr('data-room')) === sel[1] && str($r.attr('data-notices')) === sel[2];
      }).children('.pollchat-row-main')[0] || e;
    }
    if (!e || !e.focus || !$.contains(document.documentElement, e) || !$(e).is(':visible')) { e = this.$launcher && this.$launcher[0]; }
    try { if (e) { e.focus(); } } catch (x) { /* gone */ }
  };

  // onKey: Escape closes the window or the panel it is pressed in and gives
  // the focus back to where it was.
  App.prototype.onKey = function (e) {
    var self = this, t = e.target, done = false;
    if (e.which !== 27) { return; }
    each(this.convs, function (k, c) {
      if (!done && c.win && $.contains(c.win.$el[0], t) && self.o.mode !== 'page') {
        done = true;
        self.closeWindow(c);
      }
    });
    if (!done && this.$panel && ($.contains(this.$panel[0], t) || (t === this.$launcher[0] && this.$root.hasClass('pollchat-open')))) {
      done = true;
      this.close();
      this.$launcher.focus();
    }
    if (done) { e.preventDefault(); }
  };

  // announce says text through the polite live region.
  App.prototype.announce = function (text) {
    var $l = this.$live;
    if (!$l) { return; }
    $l.text('');
    setTimeout(function () { $l.text(text); }, 50);
  };

  // dir is the widget's writing direction: the dir option, the page's, or
  // the language's.
  App.prototype.dir = function () {
    var d = str(this.o.dir || document.documentElement.getAttribute('dir') || (document.body && document.body.getAttribute('dir'))).toLowerCase();
    if (d === 'rtl' || d === 'ltr') { return d; }
    return own(RTL_LANGS, str(this.o.lang).split('-')[0]) ? 'rtl' : 'ltr';
  };

  // phone: the screen holds one thing at a time.
  App.prototype.phone = function () {
    return this.o.mode !== 'page' && $(window).width() <= 600;
  };

  // profileLink wraps $inner in a link to the user's profile page (http and
  // https only, a new tab, no opener), or returns it as it is.
  App.prototype.profileLink = function (id, $inner, decorative) {
    var u = this.users[str(id)] || {}, url = httpURL(u.profile_url), $a;
    if (!url) { return $inner; }
    $a = $(document.createElement('a')).addClass('pollchat-profile-link').attr('href', url)
      .attr('target', '_blank').attr('rel', 'noopener').append($inner);
    if (decorative) { $a.attr('tabindex', '-1').attr('aria-hidden', 'true'); }
    return $a;
  };

  // fillText puts message text in a bubble: plain text, with http(s) links
  // made clickable (as links built here, never as HTML from the server).
  // ------------------------------------------------------------ attachments
  // A file goes up with FormData and XMLHttpRequest (progress bar, cancel)
  // where the browser has them, else as a form posted into a hidden iframe
  // whose answer page hands the result over with postMessage.

  function humanSize(n) {
    n = +n || 0;
    if (n >= 1048576) { return (Math.round(n / 104857.6) / 10) + ' MB'; }
    if (n >= 1024) { return Math.round(n / 1024) + ' KB'; }
    return n + ' B';
  }

  function safeHTTP(u) { return /^https?:\/\//i.test(str(u)); }

  App.prototype.attachmentEl = function (a) {
    var $a, $img, w = +a.width || 0, h = +a.height || 0, k;
    if (!safeHTTP(a.url)) { return null; }
    if (/^image\//.test(str(a.type)) && a.thumb_url && safeHTTP(a.thumb_url)) {
      $a = el('a', 'pollchat-file-img').attr('href', str(a.url)).attr('target', '_blank').attr('rel', 'noopener noreferrer');
      $img = $(document.createElement('img')).addClass('pollchat-thumb').attr('alt', str(a.name)).attr('src', str(a.thumb_url));
      if (w > 0 && h > 0) {
        k = Math.min(1, 240 / Math.max(w, h));
        $img.attr('width', String(Math.round(w * k))).attr('height', String(Math.round(h * k)));
      }
      return $a.append($img);
    }
    $a = el('a', 'pollchat-file').attr('href', str(a.url)).attr('target', '_blank').attr('rel', 'noopener noreferrer')
      .attr('title', this.s('download')).attr('download', str(a.name));
    $a.append(icon('clip')).append(el('span', 'pollchat-file-name').text(str(a.name)))
      .append(el('span', 'pollchat-file-size').text(humanSize(a.size)));
    return $a;
  };

  App.prototype.attachControls = function (conv, w, $form) {
    var self = this, $w = w.$input.closest('.pollchat-window');
    w.$clip = el('button', 'pollchat-clip').attr('title', this.s('attach')).attr('aria-label', this.s('attach'))
      .append(icon('clip')).insertBefore(w.$send);
    w.$file = $(document.createElement('input')).attr('type', 'file').addClass('pollchat-fileinput')
      .attr('tabindex', '-1').attr('aria-hidden', 'true').appendTo($form);
    w.$clip.on('click', function () { w.$file.trigger('click'); });
    w.$file.on('change', function () {
      var f = this.files && this.files[0];
      if (f || this.value) { self.upload(conv, f || null); }
    });
    if (!$w.length) { $w = $form.parent(); }
    $w.on('dragover', function (e) {
      var dt = e.originalEvent && e.originalEvent.dataTransfer;
      if (dt) { e.preventDefault(); }
    });
    $w.on('drop', function (e) {
      var dt = e.originalEvent && e.originalEvent.dataTransfer;
      if (dt && dt.files && dt.files.length) {
        e.preventDefault();
        self.upload(conv, dt.files[0]);
      }
    });
    w.$input.on('paste', function (e) {
      var cd = e.originalEvent && e.originalEvent.clipboardData, i, it;
      if (!cd || !cd.items) { return; }
      for (i = 0; i < cd.items.length; i++) {
        it = cd.items[i];
        if (it.kind === 'file' && /^image\//.test(it.type)) {
          e.preventDefault();
          self.upload(conv, it.getAsFile());
          return;
        }
      }
    });
  };

  // uploadParams are an upload's form fields. Its identity goes in the
  // query string (uploadQuery): the server reads it there before the body
  // arrives and receives the body in a place of that user's. A body whose
  // identity is in the form shares one place with every other such body.
  App.prototype.uploadParams = function (conv) {
    return conv.kind === 'room' ? { room: conv.id } : { to: conv.id };
  };

  App.prototype.uploadQuery = function () { return encodeParams(this.identity()); };

  // upload sends file (a File or Blob), or, without the File API, the
  // window's file input itself.
  App.prototype.upload = function (conv, file) {
    var self = this, w = conv.win, xhr, fd, p, k, $bar, $prog, name;
    if (!w) { return; }
    name = file ? str(file.name || 'image.png') : str(w.$file.val()).replace(/^.*[\\\/]/, '');
    if (file && file.size && this.o.files && this.o.files.max_size && file.size > this.o.files.max_size) {
      w.$error.text(this.s('fileTooLarge', { size: humanSize(this.o.files.max_size) })).show();
      return;
    }
    $bar = el('div', 'pollchat-upload').insertBefore(w.$error);
    $bar.append(el('span', 'pollchat-upload-label').text(this.s('uploading', { name: name })));
    $prog = el('span', 'pollchat-progress').append(el('span', 'pollchat-progress-fill'));
    $bar.append($prog);
    function done(err, data) {
      $bar.remove();
      if (w.$file) { w.$file.val(''); }
      if (err) {
        if (err !== 'abort') { w.$error.text(str(err.message || self.s('uploadFailed'))).show(); }
        return;
      }
      w.$error.hide();
      if (data && data.message) { self.onMessage(data.message); }
    }
    p = this.uploadParams(conv);
    if (file && window.FormData && window.XMLHttpRequest && ('upload' in (xhr = new XMLHttpRequest()))) {
      fd = new FormData();
      for (k in p) { if (own(p, k)) { fd.append(k, p[k]); } }
      fd.append('file', file, name);
      xhr.open('POST', this.o.server + '/v1/upload?' + this.uploadQuery(), true);
      xhr.upload.onprogress = function (e) {
        if (e.lengthComputable) { $prog.children().css('width', Math.round(100 * e.loaded / e.total) + '%'); }
      };
      xhr.onreadystatechange = function () {
        var data = null;
        if (xhr.readyState !== 4) { return; }
        try { data = JSON.parse(xhr.responseText); } catch (e) { data = null; }
        if (xhr.status === 0) { done('abort'); return; }
        if (!data || data.error) { done((data && data.error) || {}); return; }
        done(null, data);
      };
      el('button', 'pollchat-upload-cancel').text(this.s('cancelUpload')).appendTo($bar).on('click', function () { xhr.abort(); });
      xhr.send(fd);
      return;
    }
    this.uploadFrame(conv, p, done);
  };

  var frameSeq = 0;

  // uploadFrame posts the window's file input in a form into a hidden
  // iframe; the server answers a page that posts {pollchat_upload, answer}
  // to this page's origin.
  App.prototype.uploadFrame = function (conv, p, done) {
    var w = conv.win, id = 'pollchat-up-' + (++frameSeq), $f, $if, k, origin, onMsg, $in = w.$file, $home = $in.parent();
    origin = location.protocol + '//' + location.host;
    $if = $('<iframe name="' + id + '" style="display:none" src="about:blank"></iframe>').appendTo(document.body);
    $f = $(document.createElement('form')).attr('method', 'post').attr('enctype', 'multipart/form-data')
      .attr('encoding', 'multipart/form-data').attr('target', id).css('display', 'none')
      .attr('action', this.o.server + '/v1/upload?frame=1&frame_id=' + id + '&origin=' + encodeURIComponent(origin) + '&' + this.uploadQuery())
      .appendTo(document.body);
    for (k in p) {
      if (own(p, k)) { $(document.createElement('input')).attr('type', 'hidden').attr('name', k).val(p[k]).appendTo($f); }
    }
    $in.attr('name', 'file').appendTo($f);
    onMsg = function (e) {
      var d;
      e = e.originalEvent || e;
      if (str(e.origin) !== this.o.server.replace(/^(https?:\/\/[^\/]+).*$/, '$1')) { return; }
      try { d = JSON.parse(e.data); } catch (x) { return; }
      if (!d || d.pollchat_upload !== id) { return; }
      $(window).off('message', onMsg);
      $if.remove();
      done(d.answer && d.answer.error ? d.answer.error : null, d.answer);
    };
    onMsg = $.proxy(onMsg, this);
    $(window).on('message', onMsg);
    $f.get(0).submit();
    $in.removeAttr('name').appendTo($home);
    $f.remove();
  };

  App.prototype.fillText = function ($b, text) {
    var re = /\bhttps?:\/\/[^\s<>"]+/gi, last = 0, m, url, tail;
    $b.empty();
    while ((m = re.exec(text))) {
      url = m[0];
      tail = /[.,;:!?)\]}'"]+$/.exec(url);
      if (tail) { url = url.slice(0, url.length - tail[0].length); }
      if (m.index > last) { $b.append(document.createTextNode(text.slice(last, m.index))); }
      if (httpURL(url)) {
        $b.append($(document.createElement('a')).addClass('pollchat-link').attr('href', url).attr('target', '_blank')
          .attr('rel', 'noopener nofollow ugc').text(url));
      } else {
        $b.append(document.createTextNode(url));
      }
      last = m.index + url.length;
      re.lastIndex = last;
    }
    if (last < text.length) { $b.append(document.createTextNode(text.slice(last))); }
  };

  // -------------------------------------------------------------- public API

  function runPending() {
    var p = pending, i;
    pending = [];
    for (i = 0; i < p.length; i++) { p[i](); }
  }

  // later runs fn with the app once it has said hello; now if it has.
  function later(fn) {
    if (app && app.readyFired) { return fn(app); }
    pending.push(function () { if (app) { fn(app); } });
  }

  var started = false;

  // promised runs run(finish) once the widget is ready and hands the result
  // to cb and, where the browser (or a polyfill) has Promise, to the
  // Promise it returns.
  function promised(run, cb) {
    var P = window.Promise, resolve = null, p = null;
    if (typeof P === 'function') { p = new P(function (r) { resolve = r; }); }
    later(function (a) {
      run(a, function (v) {
        if (typeof cb === 'function') {
          try { cb.call(window.Pollchat, v); } catch (e) { warn('pollchat: callback failed: ' + (e && e.message)); }
        }
        if (resolve) { resolve(v); }
      });
    });
    return p;
  }

  var Pollchat = {
    version: VERSION,
    i18n: I18N,
    _jsonp: jsonpRegistry,

    // init starts the widget. Options: server, id/timestamp/hash (with
    // name, thumbUrl) or token, lang, strings, layout, position, zIndex,
    // open, hidden, sound, titleBlink, rooms, autoOpen, maxWindows,
    // maxLength, historyPage, pollTimeout, shareTabs, tokenWarning,
    // jqueryUrl, css, container, title, mode ("page" with target for one
    // full-window conversation). docs/readme/widget.md lists them all.
    init: function (options) {
      var o = mix({}, dataOptions(scriptTag), options || {});
      o.layout = mix({}, dataOptions(scriptTag).layout, options && options.layout);
      o.server = str(o.server || scriptBase()).replace(/\/+$/, '');
      if (!o.lang) {
        o.lang = str(document.documentElement.getAttribute('lang') || navigator.language || navigator.userLanguage || 'en').toLowerCase();
      }
      if (!I18N[o.lang]) { o.lang = o.lang.split('-')[0]; }
      if (!o.server) { warn('pollchat: init needs a server URL'); return Pollchat; }
      if (!o.token && !(o.id && o.timestamp && o.hash) && !o.guest) { warn('pollchat: init needs {id, timestamp, hash}, {token} or {guest: true}'); return Pollchat; }
      started = true;
      // Without jQuery on the page, the server's /jquery.js (the system's
      // copy, or a redirect to a public one); IE8-era browsers get 1.12.
      withJQuery(o.jqueryUrl || (document.addEventListener ? o.server + '/jquery.js' : ''), function (jq) {
        var previous = app;
        $ = jq;
        if (previous) { previous.stop(); }
        app = new App(o);
        domReady(function () {
          app.start();
          if (o.mode === 'page' && o.target) {
            later(function (a) { a.openDialog(o.target, true); });
          }
        });
      });
      return Pollchat;
    },

    on: function (type, fn) {
      if (typeof fn === 'function') { (handlers[type] = handlers[type] || []).push(fn); }
      return Pollchat;
    },

    off: function (type, fn) {
      var list = handlers[type] || [], i;
      for (i = list.length - 1; i >= 0; i--) {
        if (!fn || list[i] === fn) { list.splice(i, 1); }
      }
      return Pollchat;
    },

    open: function () { later(function (a) { a.open(); }); return Pollchat; },
    close: function () { later(function (a) { a.close(); }); return Pollchat; },
    toggle: function () { later(function (a) { a.toggle(); }); return Pollchat; },
    show: function () { later(function (a) { a.$root.removeClass('pollchat-hidden pollchat-no-launcher'); emit('show'); }); return Pollchat; },
    hide: function () { later(function (a) { a.$root.addClass('pollchat-hidden'); emit('hide'); }); return Pollchat; },

    openDialog: function (userId) { later(function (a) { a.openDialog(userId, true); }); return Pollchat; },
    openRoom: function (name) { later(function (a) { a.openRoom(str(name), true); }); return Pollchat; },

    // composeMessage opens the conversation with userId, puts text in its
    // input and, when send is true, sends it.
    composeMessage: function (userId, text, send) {
      later(function (a) {
        var conv = a.openDialog(userId, true);
        if (!conv) { return; }
        if (send) { a.send(conv, str(text)); } else { conv.win.$input.val(str(text)); a.grow(conv); }
      });
      return Pollchat;
    },

    request: function (userId, text) { later(function (a) { a.sendRequest(userId, text); }); return Pollchat; },

    setToken: function (token) {
      if (app) { app.setIdentity({ token: str(token) }); }
      return Pollchat;
    },

    // updateAccessToken hands over a fresh token (after
    // access_token_expired or access_token_is_about_to_expire): the poll
    // goes on from its cursor, windows stay open, held sends go out.
    updateAccessToken: function (token) { return Pollchat.setToken(token); },

    // removeChat hides the conversation with userId until a new message
    // comes; cb (and the Promise returned where there is one) gets
    // {user_id, kept: "server"|"local"}.
    removeChat: function (userId, cb) {
      return promised(function (a, done) { a.removeChat(userId, done); }, cb);
    },

    // getUnreadMessages: cb (and the Promise) gets the unread messages,
    // oldest first.
    getUnreadMessages: function (cb) {
      return promised(function (a, done) { a.unreadMessages(done); }, cb);
    },

    isAuthenticated: function () { return !!(app && app.me && app.t && app.t.state !== 'auth' && app.t.state !== 'stopped'); },
    getUser: function () { return Pollchat.me(); },
    getChats: function () { return app && app.me ? app.chats() : []; },
    getUsersStatusList: function () { return app && app.me ? app.usersStatus() : []; },

    setIdentity: function (ident) {
      if (app && ident) { app.setIdentity({ id: str(ident.id), timestamp: str(ident.timestamp), hash: str(ident.hash) }); }
      return Pollchat;
    },

    reconnect: function () { if (app) { app.t.reconnectNow(); } return Pollchat; },

    logout: function () {
      var a = app;
      app = null;
      pending = [];
      started = false;
      if (a) {
        a.stop();
        emit('logout');
      }
      return Pollchat;
    },

    destroy: function () { return Pollchat.logout(); },

    // state is the connection state: idle, connecting, online,
    // reconnecting, auth (identity refused), stopped.
    state: function () { return app && app.t ? app.t.state : 'idle'; },
    unread: function () { return app ? Math.max(0, app.unreadTotal) : 0; },
    me: function () { return app && app.me ? mix({}, app.users[app.me]) : null; },
    stats: function () { return app && app.t ? mix({ cursor: app.t.cursor, state: app.t.state, failures: app.t.failures, leader: !app.t.following() }, app.t.stats) : null; },
    isStarted: function () { return started; },

    _backoff: backoff
  };

  window.Pollchat = Pollchat;

  // data- attributes with an identity start the widget by themselves.
  (function () {
    var d = dataOptions(scriptTag);
    if (d.token || (d.id && d.timestamp && d.hash)) { Pollchat.init({}); }
  }());
}(window, document));
