package e2e

import (
	"bytes"
	"fmt"
	"image"
	"testing"

	"pollchat/internal/testsvc"
)

// Cluster: an image uploaded through one process is served by another
// (the bytes live in MySQL, not on the first process's disk), and
// survives that first process's end.
func TestClusterFileServedByAnotherProcess(t *testing.T) {
	rd := testsvc.StartRedis(t)
	dsn := testsvc.SharedMariaDB(t).NewDatabase(t)
	o := filesOpts("")
	o.Store = fmt.Sprintf("[store]\ndriver = \"mysql\"\ndsn = %q\n", dsn)
	o.Extra += fmt.Sprintf("[cluster]\nredis_url = %q\n", rd.URL)
	p1 := testsvc.StartPollchat(t, o)
	p2 := testsvc.StartPollchat(t, o)
	c1, c2 := testsvc.NewClient(p1.URL), testsvc.NewClient(p2.URL)
	a := attachmentOf(t, upload(t, c1, "3", "photo.png", pngOf(400, 300), "", "to", "4"))
	p1.Stop()
	u := p2.URL + a.URL[len(p1.URL):]
	r := get(t, c2, u)
	if r.Status != 200 {
		t.Fatalf("GET through the other process = %d %s", r.Status, r.Body)
	}
	if cfg, _, err := image.DecodeConfig(bytes.NewReader(r.Body)); err != nil || cfg.Width != 400 {
		t.Fatalf("served image: %v %+v", err, cfg)
	}
	if r := c2.Do(t, "GET", "/files/"+a.ID+"_t", c2.Ident("4")); r.Status != 200 {
		t.Errorf("thumbnail through the other process as 4 = %d", r.Status)
	}
}
