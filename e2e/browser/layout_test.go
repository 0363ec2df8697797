package browser

import (
	"strings"
	"testing"

	"pollchat/internal/testsvc"
)

// TestLayoutOptionsChangeComputedColours: the Bandyer-style layout options,
// position, z-index and language change what the browser computes, against
// a host theme that styles bare buttons, images and line heights.
func TestLayoutOptionsChangeComputedColours(t *testing.T) {
	e := newEnv(t, testsvc.Options{})
	plain := e.newTab("default")
	plain.open(hostPage{User: "3", JQuery: "3", Opts: map[string]any{"open": true}})
	styled := e.newTab("styled")
	styled.open(hostPage{User: "1", JQuery: "1", Opts: map[string]any{
		"open":     true,
		"position": "left",
		"zIndex":   1234,
		"lang":     "de",
		"layout": map[string]any{
			"header":          "#0a7c55",
			"headerButton":    "#ffcc00",
			"body":            "#fffff0",
			"launcher":        "rgb(200, 30, 60)",
			"messageSent":     "#123456",
			"messageReceived": "#fafad2",
			"fontFamily":      "Georgia, serif",
		},
	}})
	styled.do(`Pollchat.composeMessage('3', 'Farbe?', true)`)
	styled.waitTrue("sent bubble", `jQuery('`+win("3")+` .pollchat-out:not(.pollchat-pending) .pollchat-bubble').length === 1`)
	plain.waitTrue("received bubble", `jQuery('`+win("1")+` .pollchat-in .pollchat-bubble').length === 1`)
	plain.do(`Pollchat.composeMessage('1', 'Blue.', true)`)
	styled.waitTrue("received bubble", `jQuery('`+win("3")+` .pollchat-in .pollchat-bubble').length === 1`)
	plain.waitTrue("sent bubble", `jQuery('`+win("1")+` .pollchat-out:not(.pollchat-pending) .pollchat-bubble').length === 1`)

	style := func(b *tab, sel, prop string) string {
		return eval[string](b, `getComputedStyle(document.querySelector(`+js(sel)+`)).getPropertyValue(`+js(prop)+`)`)
	}
	for _, c := range []struct {
		sel, prop, plain, styled string
	}{
		{".pollchat-panel .pollchat-header", "background-color", "rgb(79, 70, 229)", "rgb(10, 124, 85)"},
		{".pollchat-panel .pollchat-hbtn", "color", "rgb(255, 255, 255)", "rgb(255, 204, 0)"},
		{".pollchat-panel-body", "background-color", "rgb(255, 255, 255)", "rgb(255, 255, 240)"},
		{".pollchat-launcher", "background-color", "rgb(79, 70, 229)", "rgb(200, 30, 60)"},
		{".pollchat-out .pollchat-bubble", "background-color", "rgb(79, 70, 229)", "rgb(18, 52, 86)"},
		{".pollchat-in .pollchat-bubble", "background-color", "rgb(241, 243, 247)", "rgb(250, 250, 210)"},
		{".pollchat-in .pollchat-bubble", "color", "rgb(29, 36, 51)", "rgb(29, 36, 51)"},
		{".pollchat-launcher", "border-top-style", "none", "none"},
		{".pollchat-bubble", "line-height", "19.32px", "19.32px"},
	} {
		if got := style(plain, c.sel, c.prop); got != c.plain {
			plain.fatalf("default %s %s = %q; want %q", c.sel, c.prop, got, c.plain)
		}
		if got := style(styled, c.sel, c.prop); got != c.styled {
			styled.fatalf("styled %s %s = %q; want %q", c.sel, c.prop, got, c.styled)
		}
	}
	if got := style(styled, ".pollchat-root", "font-family"); !strings.HasPrefix(got, "Georgia") {
		styled.fatalf("font-family = %q; want Georgia first", got)
	}
	if got := style(styled, ".pollchat-root", "z-index"); got != "1234" {
		styled.fatalf("z-index = %q; want 1234", got)
	}
	if got := style(styled, ".pollchat-launcher", "left"); got != "20px" {
		styled.fatalf("launcher left = %q; want 20px (position left)", got)
	}
	if got := style(plain, ".pollchat-launcher", "right"); got != "20px" {
		plain.fatalf("launcher right = %q; want 20px", got)
	}
	if got := eval[string](styled, `jQuery('.pollchat-tab').first().text()`); got != "Personen" {
		styled.fatalf("first tab = %q; want Personen (lang de)", got)
	}
	styled.screenshot("widget-layout-options")
}
