package browser

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/color"
	"image/png"
	"testing"

	"pollchat/internal/testsvc"
)

// TestImageUploadShowsThumbnailLive: Ada picks an image in her window with
// Linus (the paperclip's file input); it goes up with XMLHttpRequest and
// FormData, and Linus sees the thumbnail appear live, loaded from its
// signed URL by a plain <img>, linking to the full image; a PDF shows as a
// download link with its name.
func TestImageUploadShowsThumbnailLive(t *testing.T) {
	e := newEnv(t, testsvc.Options{Extra: "[files]\nenabled = true\n"})
	img := image.NewNRGBA(image.Rect(0, 0, 120, 80))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	img.Set(0, 0, color.NRGBA{255, 0, 0, 255})
	var b bytes.Buffer
	png.Encode(&b, img)
	b64 := base64.StdEncoding.EncodeToString(b.Bytes())

	linus := e.newTab("linus")
	linus.open(hostPage{User: "3", JQuery: "1", Opts: map[string]any{"pollTimeout": 3}})
	ada := e.newTab("ada")
	ada.open(hostPage{User: "1", JQuery: "1", Opts: map[string]any{"open": true}})
	ada.waitTrue("Linus in Ada's online list", `document.querySelector('.pollchat-people .pollchat-row[data-uid="3"]')`)
	ada.click(`.pollchat-people .pollchat-row[data-uid="3"]`)
	ada.waitTrue("paperclip in the window with Linus", `document.querySelector('`+win("3")+` .pollchat-clip')`)
	pick := func(name, mime, data string) {
		ada.do(`(function(){var s=atob(` + js(data) + `),a=new Uint8Array(s.length),i;for(i=0;i<s.length;i++){a[i]=s.charCodeAt(i);}
			var dt=new DataTransfer();dt.items.add(new File([a],` + js(name) + `,{type:` + js(mime) + `}));
			var inp=document.querySelector('` + win("3") + ` .pollchat-fileinput');inp.files=dt.files;jQuery(inp).trigger('change');})()`)
	}
	// The widget signs an upload in its query string, where the server
	// reads it before the body comes (a place of Ada's own for her body).
	ada.do(`(function(){var o=XMLHttpRequest.prototype.open;window.__uploads=[];XMLHttpRequest.prototype.open=function(m,u){if(/\/v1\/upload/.test(u)){window.__uploads.push(String(u));}return o.apply(this,arguments);};})()`)
	pick("sunset.png", "image/png", b64)
	ada.waitTrue("Ada's own thumbnail", `document.querySelectorAll('`+win("3")+` img.pollchat-thumb').length === 1`)
	linus.waitTrue("thumbnail at Linus, loaded", `(function(){var i=document.querySelector('`+win("1")+` img.pollchat-thumb');return !!i && i.complete && i.naturalWidth > 0 && i.naturalWidth <= 320;})()`)
	if href := eval[string](linus, `document.querySelector('`+win("1")+` a.pollchat-file-img').href`); len(href) < 20 || !bytes.Contains([]byte(href), []byte("/files/")) || !bytes.Contains([]byte(href), []byte("?t=")) {
		linus.fatalf("thumbnail link = %q; want a signed /files/ URL", href)
	}
	if u := eval[string](ada, `window.__uploads.length ? window.__uploads[0] : ''`); !bytes.Contains([]byte(u), []byte("?id=1&")) || !bytes.Contains([]byte(u), []byte("&hash=")) {
		ada.fatalf("upload URL = %q; want the identity (id=1, timestamp, hash) in its query string", u)
	}
	pick("notes.pdf", "application/pdf", base64.StdEncoding.EncodeToString([]byte("%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")))
	linus.waitTrue("PDF link at Linus", `jQuery('`+win("1")+` a.pollchat-file .pollchat-file-name').text() === 'notes.pdf'`)
	// A refused file shows the server's reason and sends nothing.
	pick("evil.png", "image/png", base64.StdEncoding.EncodeToString([]byte("<html><script>alert(1)</script></html>")))
	ada.waitTrue("refusal shown", `jQuery('`+win("3")+` .pollchat-error').is(':visible') && jQuery('`+win("3")+` .pollchat-error').text().length > 5`)
	if n := eval[int](linus, `document.querySelectorAll('`+win("1")+` .pollchat-msg').length`); n != 2 {
		linus.fatalf("Linus sees %d messages; want 2 (the refused file sent nothing)", n)
	}
}
