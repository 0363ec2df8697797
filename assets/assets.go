// Package assets holds the browser side of pollchat: the drop-in widget
// (widget.js, widget.css), the eStreamChat-compatible messenger.js, and the
// HTML pages the server fills in (demo.html, demo-user.html, chat.html).
//
// The HTML pages carry the literal placeholder /*POLLCHAT_CONFIG*/null which
// the server replaces with a JSON object before sending the page.
package assets

import "embed"

// FS holds every served browser file.
//
//go:embed *.js *.css *.html
var FS embed.FS
