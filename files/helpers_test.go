package files

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"testing"
)

func newProc(t testing.TB, cfg Config) *Processor {
	t.Helper()
	p, err := NewProcessor(cfg)
	if err != nil {
		t.Fatalf("NewProcessor: %v", err)
	}
	return p
}

func solid(w, h int, c color.Color) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, c)
		}
	}
	return img
}

func encJPEG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encPNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encGIF(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := gif.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

type zipEntry struct {
	name   string
	data   []byte
	stored bool
}

func makeZip(t testing.TB, ents ...zipEntry) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, e := range ents {
		m := zip.Deflate
		if e.stored || e.name == "mimetype" {
			m = zip.Store
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: m})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(e.data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// bitWriter writes bits least significant first, as VP8L reads them.
type bitWriter struct {
	b []byte
	n uint
}

func (w *bitWriter) put(v uint32, bits uint) {
	for i := uint(0); i < bits; i++ {
		if w.n%8 == 0 {
			w.b = append(w.b, 0)
		}
		if v>>i&1 == 1 {
			w.b[len(w.b)-1] |= 1 << (w.n % 8)
		}
		w.n++
	}
}

// solidWebP makes a lossless WebP of one colour: every prefix code has a
// single symbol, so the pixels take no bits at all.
func solidWebP(w, h int, c color.NRGBA, alpha bool) []byte {
	var bw bitWriter
	bw.put(0x2f, 8)
	bw.put(uint32(w-1), 14)
	bw.put(uint32(h-1), 14)
	a := uint32(0)
	if alpha {
		a = 1
	}
	bw.put(a, 1)
	bw.put(0, 3)
	bw.put(0, 1) // no transform
	bw.put(0, 1) // no colour cache
	bw.put(0, 1) // no meta prefix codes
	for _, sym := range []uint8{c.G, c.R, c.B, c.A, 0} {
		bw.put(1, 1) // simple code
		bw.put(0, 1) // one symbol
		bw.put(1, 1) // 8 bits
		bw.put(uint32(sym), 8)
	}
	data := bw.b
	if len(data)%2 == 1 {
		data = append(data, 0)
	}
	var out bytes.Buffer
	out.WriteString("RIFF")
	binary.Write(&out, binary.LittleEndian, uint32(4+8+len(data)))
	out.WriteString("WEBPVP8L")
	binary.Write(&out, binary.LittleEndian, uint32(len(bw.b)))
	out.Write(data)
	return out.Bytes()
}

// pngHeader returns a PNG whose IHDR claims w×h, followed by a tiny IDAT.
func pngHeader(w, h uint32) []byte {
	var b bytes.Buffer
	b.Write(magicPNG)
	chunk := func(typ string, data []byte) {
		binary.Write(&b, binary.BigEndian, uint32(len(data)))
		b.WriteString(typ)
		b.Write(data)
		crc := crc32.NewIEEE()
		crc.Write([]byte(typ))
		crc.Write(data)
		binary.Write(&b, binary.BigEndian, crc.Sum32())
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr, w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 6 // 8-bit RGBA
	chunk("IHDR", ihdr)
	chunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})
	chunk("IEND", nil)
	return b.Bytes()
}

// exifAPP1 builds an APP1 Exif segment with an Orientation and a GPS IFD
// whose map datum is the given secret.
func exifAPP1(orientation uint16, secret string) []byte {
	bo := binary.BigEndian
	var t bytes.Buffer
	t.WriteString("MM")
	binary.Write(&t, bo, uint16(42))
	binary.Write(&t, bo, uint32(8))
	// IFD0 at 8: 2 entries, next 0 → 8+2+24+4 = 38
	gpsOff := uint32(38)
	strOff := gpsOff + 2 + 12 + 4
	binary.Write(&t, bo, uint16(2))
	binary.Write(&t, bo, []uint16{0x0112, 3})
	binary.Write(&t, bo, uint32(1))
	binary.Write(&t, bo, []uint16{orientation, 0})
	binary.Write(&t, bo, []uint16{0x8825, 4})
	binary.Write(&t, bo, uint32(1))
	binary.Write(&t, bo, gpsOff)
	binary.Write(&t, bo, uint32(0))
	// GPS IFD: GPSMapDatum ASCII
	binary.Write(&t, bo, uint16(1))
	binary.Write(&t, bo, []uint16{0x0012, 2})
	binary.Write(&t, bo, uint32(len(secret)+1))
	binary.Write(&t, bo, strOff)
	binary.Write(&t, bo, uint32(0))
	t.WriteString(secret)
	t.WriteByte(0)
	body := append([]byte("Exif\x00\x00"), t.Bytes()...)
	seg := []byte{0xff, 0xe1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(body)+2))
	return append(seg, body...)
}

func withAPP1(jpg, app1 []byte) []byte {
	out := append([]byte{}, jpg[:2]...)
	out = append(out, app1...)
	return append(out, jpg[2:]...)
}

// cfb builds a minimal compound file (version 3) whose directory holds the
// given stream names.
func cfb(names ...string) []byte {
	le := binary.LittleEndian
	h := make([]byte, 512)
	copy(h, magicCFB)
	le.PutUint16(h[24:], 0x3e)
	le.PutUint16(h[26:], 3)
	le.PutUint16(h[28:], 0xfffe)
	le.PutUint16(h[30:], 9)
	le.PutUint16(h[32:], 6)
	le.PutUint32(h[44:], 1)
	le.PutUint32(h[48:], 1)
	le.PutUint32(h[56:], 4096)
	le.PutUint32(h[60:], 0xfffffffe)
	le.PutUint32(h[68:], 0xfffffffe)
	for i := 76; i < 512; i += 4 {
		le.PutUint32(h[i:], 0xffffffff)
	}
	le.PutUint32(h[76:], 0)
	fat := make([]byte, 512)
	for i := 0; i < 512; i += 4 {
		le.PutUint32(fat[i:], 0xffffffff)
	}
	le.PutUint32(fat[0:], 0xfffffffd)
	le.PutUint32(fat[4:], 0xfffffffe)
	dir := make([]byte, 512)
	all := append([]string{"Root Entry"}, names...)
	for i, n := range all {
		e := dir[i*128:]
		u := []rune(n)
		for j, r := range u {
			le.PutUint16(e[2*j:], uint16(r))
		}
		le.PutUint16(e[64:], uint16(2*len(u)+2))
		e[66] = 2
		if i == 0 {
			e[66] = 5
		}
	}
	return append(append(h, fat...), dir...)
}
