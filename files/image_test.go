package files

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"runtime"
	"testing"
)

var (
	cRed   = color.NRGBA{255, 0, 0, 255}
	cGreen = color.NRGBA{0, 255, 0, 255}
	cBlue  = color.NRGBA{0, 0, 255, 255}
	cWhite = color.NRGBA{255, 255, 255, 255}
)

// upright is the picture as it should look: red top-left, green
// top-right, blue bottom-left, white bottom-right.
func uprightColor(x, y, w, h int) color.NRGBA {
	switch {
	case x < w/2 && y < h/2:
		return cRed
	case y < h/2:
		return cGreen
	case x < w/2:
		return cBlue
	}
	return cWhite
}

// stored returns the pixels a camera stores for an upright w×h picture
// with the given EXIF orientation, from the tag's definition (where the
// stored row 0 and column 0 are seen), independently of orientImage.
func stored(o, w, h int) *image.NRGBA {
	sw, sh := w, h
	if o >= 5 {
		sw, sh = h, w
	}
	img := image.NewNRGBA(image.Rect(0, 0, sw, sh))
	for sy := 0; sy < sh; sy++ {
		for sx := 0; sx < sw; sx++ {
			var vx, vy int
			switch o {
			case 1:
				vx, vy = sx, sy
			case 2:
				vx, vy = w-1-sx, sy
			case 3:
				vx, vy = w-1-sx, h-1-sy
			case 4:
				vx, vy = sx, h-1-sy
			case 5: // row 0 left, column 0 top
				vx, vy = sy, sx
			case 6: // row 0 right, column 0 top
				vx, vy = w-1-sy, sx
			case 7: // row 0 right, column 0 bottom
				vx, vy = w-1-sy, h-1-sx
			case 8: // row 0 left, column 0 bottom
				vx, vy = sy, h-1-sx
			}
			img.SetNRGBA(sx, sy, uprightColor(vx, vy, w, h))
		}
	}
	return img
}

func near(a color.Color, b color.NRGBA) bool {
	r, g, bl, _ := a.RGBA()
	d := func(x uint32, y uint8) bool { v := int(x>>8) - int(y); return v > -40 && v < 40 }
	return d(r, b.R) && d(g, b.G) && d(bl, b.B)
}

func TestOrientationAndGPS(t *testing.T) {
	const w, h = 96, 64
	const secret = "SECRET-PLACE-51.4778N"
	p := newProc(t, Config{})
	for o := 1; o <= 8; o++ {
		in := withAPP1(encJPEG(t, stored(o, w, h)), exifAPP1(uint16(o), secret))
		if got := jpegOrientation(in); got != o {
			t.Fatalf("jpegOrientation = %d; want %d", got, o)
		}
		u, err := p.Accept(in, "IMG_0001.JPG")
		if err != nil {
			t.Fatalf("orientation %d: Accept: %v", o, err)
		}
		if u.Type != JPEG || u.Width != w || u.Height != h || u.Name != "IMG_0001.jpg" {
			t.Fatalf("orientation %d: got %s %d×%d %q; want jpeg %d×%d IMG_0001.jpg", o, u.Type, u.Width, u.Height, u.Name, w, h)
		}
		for _, out := range [][]byte{u.Data, u.Thumb} {
			if bytes.Contains(out, []byte(secret)) || bytes.Contains(out, []byte("Exif")) {
				t.Fatalf("orientation %d: EXIF/GPS survived re-encoding", o)
			}
		}
		img, err := jpeg.Decode(bytes.NewReader(u.Data))
		if err != nil {
			t.Fatal(err)
		}
		if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
			t.Fatalf("orientation %d: output %v; want %d×%d", o, b, w, h)
		}
		for _, pt := range []struct {
			x, y int
			c    color.NRGBA
		}{{w / 4, h / 4, cRed}, {3 * w / 4, h / 4, cGreen}, {w / 4, 3 * h / 4, cBlue}, {3 * w / 4, 3 * h / 4, cWhite}} {
			if got := img.At(pt.x, pt.y); !near(got, pt.c) {
				t.Errorf("orientation %d: pixel (%d,%d) = %v; want %v", o, pt.x, pt.y, got, pt.c)
			}
		}
	}
}

func TestImageOutputs(t *testing.T) {
	p := newProc(t, Config{})
	big := image.NewNRGBA(image.Rect(0, 0, 1000, 500))
	for i := range big.Pix {
		big.Pix[i] = uint8(200 + 55*(i%4/3)) // grey, opaque
	}
	half := solid(40, 20, color.NRGBA{0, 0, 255, 128})
	tests := []struct {
		name         string
		data         []byte
		typ, thumbT  Type
		w, h, tw, th int
	}{
		{"jpeg photo", encJPEG(t, big), JPEG, JPEG, 1000, 500, 320, 160},
		{"opaque png stays png", encPNG(t, big), PNG, JPEG, 1000, 500, 320, 160},
		{"transparent png", encPNG(t, half), PNG, PNG, 40, 20, 40, 20},
		{"tall png", encPNG(t, solid(100, 1000, cRed)), PNG, JPEG, 100, 1000, 32, 320},
		{"gif", encGIF(t, solid(30, 300, cRed)), PNG, JPEG, 30, 300, 30, 300},
		{"opaque webp becomes jpeg", solidWebP(640, 480, cGreen, false), JPEG, JPEG, 640, 480, 320, 240},
		{"transparent webp becomes png", solidWebP(10, 10, color.NRGBA{1, 2, 3, 100}, true), PNG, PNG, 10, 10, 10, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := p.Accept(tt.data, "x.webp")
			if err != nil {
				t.Fatalf("Accept: %v", err)
			}
			if u.Type != tt.typ || u.ThumbType != tt.thumbT || u.Width != tt.w || u.Height != tt.h || u.ThumbWidth != tt.tw || u.ThumbHeight != tt.th {
				t.Fatalf("got %s/%s %d×%d thumb %d×%d; want %s/%s %d×%d thumb %d×%d", u.Type, u.ThumbType, u.Width, u.Height, u.ThumbWidth, u.ThumbHeight, tt.typ, tt.thumbT, tt.w, tt.h, tt.tw, tt.th)
			}
			if u.Name != "x."+tt.typ.Ext() {
				t.Fatalf("Name = %q; want x.%s", u.Name, tt.typ.Ext())
			}
			for _, part := range []struct {
				b    []byte
				t    Type
				w, h int
			}{{u.Data, u.Type, u.Width, u.Height}, {u.Thumb, u.ThumbType, u.ThumbWidth, u.ThumbHeight}} {
				var cfg image.Config
				var err error
				if part.t == JPEG {
					cfg, err = jpeg.DecodeConfig(bytes.NewReader(part.b))
				} else {
					cfg, err = png.DecodeConfig(bytes.NewReader(part.b))
				}
				if err != nil || cfg.Width != part.w || cfg.Height != part.h {
					t.Fatalf("output %s: %v %d×%d; want %d×%d", part.t, err, cfg.Width, cfg.Height, part.w, part.h)
				}
			}
			if tt.name == "transparent png" {
				img, _ := png.Decode(bytes.NewReader(u.Data))
				if _, _, _, a := img.At(5, 5).RGBA(); a>>8 < 120 || a>>8 > 136 {
					t.Fatalf("alpha = %d; want about 128", a>>8)
				}
			}
		})
	}
}

func TestImageHostile(t *testing.T) {
	p := newProc(t, Config{})
	gifJS := encGIF(t, solid(4, 4, cRed))
	// A comment extension with script after the header, and script after
	// the trailer: the GIF/JavaScript polyglot.
	gifJS = append(gifJS[:len(gifJS)-1], append([]byte("\x21\xfe\x1e<script>alert('gifjs')</script>\x00"), 0x3b)...)
	gifJS = append(gifJS, []byte("*/=1;alert('gifjs');//<script>alert('gifjs')</script>")...)
	zipPayload := makeZip(t, zipEntry{name: "payload.html", data: []byte("<script>alert('zip')</script>"), stored: true})
	jpgZip := append(encJPEG(t, solid(16, 16, cBlue)), zipPayload...)
	pngHTML := encPNG(t, solid(4, 4, cGreen))
	pngHTML = append(pngHTML, []byte("<html><script>alert('png')</script></html>")...)

	for _, tt := range []struct {
		name string
		data []byte
		typ  Type
	}{{"gif+js polyglot", gifJS, PNG}, {"jpeg with trailing zip", jpgZip, JPEG}, {"png with trailing html", pngHTML, PNG}} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := p.Detect(tt.data); err != nil {
				t.Fatalf("Detect: %v (the test expects an image that needs re-encoding)", err)
			}
			u, err := p.Accept(tt.data, "a.png")
			if err != nil {
				t.Fatalf("Accept: %v", err)
			}
			if u.Type != tt.typ {
				t.Fatalf("Type = %s; want %s", u.Type, tt.typ)
			}
			for _, bad := range []string{"<script", "alert", "PK\x03\x04", "PK\x05\x06", "payload"} {
				if bytes.Contains(u.Data, []byte(bad)) || bytes.Contains(u.Thumb, []byte(bad)) {
					t.Fatalf("output still holds %q", bad)
				}
			}
		})
	}

	refused := []struct {
		name string
		data []byte
		err  error
		code string
	}{
		{"html named png", []byte("<html><body><script>alert(1)</script></body></html>"), ErrType, "BAD_REQUEST"},
		{"svg with script", []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>`), ErrType, "BAD_REQUEST"},
		{"png 100000×100000", pngHeader(100000, 100000), ErrDimensions, "TOO_LONG"},
		{"png 20000×1", pngHeader(20000, 1), ErrDimensions, "TOO_LONG"},
		{"png 6000×6000 (36 MP)", pngHeader(6000, 6000), ErrDimensions, "TOO_LONG"},
		{"webp 16384×16384", solidWebP(16384, 16384, cRed, false), ErrDimensions, "TOO_LONG"},
		{"truncated png", encPNG(t, solid(50, 50, cRed))[:60], ErrContent, "BAD_REQUEST"},
		{"png 0×0", pngHeader(0, 0), ErrContent, "BAD_REQUEST"},
		{"jpeg header only", []byte("\xff\xd8\xff\xe0"), ErrContent, "BAD_REQUEST"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			var ms0, ms1 runtime.MemStats
			runtime.ReadMemStats(&ms0)
			u, err := p.Accept(tt.data, "a.png")
			runtime.ReadMemStats(&ms1)
			if !errors.Is(err, tt.err) || Code(err) != tt.code || u != nil {
				t.Fatalf("Accept = %v, %v (%s); want %v (%s)", u, err, Code(err), tt.err, tt.code)
			}
			// A bomb is refused from its header: nowhere near w×h×4 bytes.
			if got := ms1.TotalAlloc - ms0.TotalAlloc; got > 4<<20 {
				t.Fatalf("refusing allocated %d bytes; want < 4 MiB", got)
			}
		})
	}
}

func TestExifParserBounds(t *testing.T) {
	app := exifAPP1(6, "x")
	jpg := withAPP1(encJPEG(t, solid(8, 8, cRed)), app)
	// Cut the file at every point inside the APP1 segment: never a panic,
	// and a cut segment is not believed.
	for n := 2; n < 2+len(app); n++ {
		if o := jpegOrientation(jpg[:n]); o != 1 {
			t.Fatalf("jpegOrientation(cut at %d) = %d; want 1", n, o)
		}
	}
	if o := jpegOrientation(jpg); o != 6 {
		t.Fatalf("jpegOrientation = %d; want 6", o)
	}
}

// TestOrientationGray runs the non-YCbCr path: a grey JPEG, orientation 8.
func TestOrientationGray(t *testing.T) {
	const w, h = 64, 32
	src := stored(8, w, h)
	g := image.NewGray(src.Bounds())
	for y := 0; y < src.Bounds().Dy(); y++ {
		for x := 0; x < src.Bounds().Dx(); x++ {
			if src.NRGBAAt(x, y) == cRed {
				g.SetGray(x, y, color.Gray{255})
			}
		}
	}
	u, err := newProc(t, Config{}).Accept(withAPP1(encJPEG(t, g), exifAPP1(8, "")), "g.jpg")
	if err != nil || u.Width != w || u.Height != h {
		t.Fatalf("Accept = %+v, %v", u, err)
	}
	img, _ := jpeg.Decode(bytes.NewReader(u.Data))
	if !near(img.At(w/4, h/4), cWhite) || !near(img.At(3*w/4, h/4), color.NRGBA{A: 255}) {
		t.Fatalf("top-left %v, top-right %v; want white, black", img.At(w/4, h/4), img.At(3*w/4, h/4))
	}
}
