package files

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	stddraw "image/draw"
	"image/gif"
	"image/jpeg"
	"image/png"

	"golang.org/x/image/draw"
	"golang.org/x/image/webp"
)

type imageCodec struct {
	config func([]byte) (image.Config, error)
	decode func([]byte) (image.Image, error)
}

func reader(f func(r *bytes.Reader) (image.Config, error)) func([]byte) (image.Config, error) {
	return func(b []byte) (image.Config, error) { return f(bytes.NewReader(b)) }
}

func decoder(f func(r *bytes.Reader) (image.Image, error)) func([]byte) (image.Image, error) {
	return func(b []byte) (image.Image, error) { return f(bytes.NewReader(b)) }
}

// Each type is decoded by its own package, never by image.Decode's
// registry, so the format that was detected is the one that is parsed.
var codecs = map[Type]imageCodec{
	JPEG: {reader(func(r *bytes.Reader) (image.Config, error) { return jpeg.DecodeConfig(r) }),
		decoder(func(r *bytes.Reader) (image.Image, error) { return jpeg.Decode(r) })},
	PNG: {reader(func(r *bytes.Reader) (image.Config, error) { return png.DecodeConfig(r) }),
		decoder(func(r *bytes.Reader) (image.Image, error) { return png.Decode(r) })},
	GIF: {reader(func(r *bytes.Reader) (image.Config, error) { return gif.DecodeConfig(r) }),
		decoder(func(r *bytes.Reader) (image.Image, error) { return gif.Decode(r) })},
	WebP: {reader(func(r *bytes.Reader) (image.Config, error) { return webp.DecodeConfig(r) }),
		decoder(func(r *bytes.Reader) (image.Image, error) { return webp.Decode(r) })},
}

// processImage bounds the image's dimensions from its header before
// decoding it, decodes it, turns it upright, and re-encodes it and its
// thumbnail: nothing of the original file but its pixels survives.
func (p *Processor) processImage(data []byte, t Type, u *Upload) error {
	c := codecs[t]
	cfg, err := c.config(data)
	if err != nil {
		return fmt.Errorf("%w: broken %s image: %v", ErrContent, t, err)
	}
	if err := p.checkDims(cfg.Width, cfg.Height); err != nil {
		return err
	}
	orient := 1
	if t == JPEG {
		orient = jpegOrientation(data)
	}
	img, err := c.decode(data)
	if err != nil {
		return fmt.Errorf("%w: broken %s image: %v", ErrContent, t, err)
	}
	b := img.Bounds()
	if err := p.checkDims(b.Dx(), b.Dy()); err != nil {
		return err
	}
	opaque := isOpaque(img)
	img = orientImage(img, orient, opaque)

	// Photos (JPEG, and opaque WebP, which Go cannot encode) become JPEG;
	// anything with transparency, and PNG and GIF graphics, become PNG.
	u.Type = PNG
	if opaque && (t == JPEG || t == WebP) {
		u.Type = JPEG
	}
	u.Width, u.Height = img.Bounds().Dx(), img.Bounds().Dy()
	if u.Data, err = p.encode(img, u.Type); err != nil {
		return err
	}

	tw, th := fit(u.Width, u.Height, p.cfg.ThumbSize)
	var thumb draw.Image
	if opaque {
		thumb = image.NewRGBA(image.Rect(0, 0, tw, th))
	} else {
		thumb = image.NewNRGBA(image.Rect(0, 0, tw, th))
	}
	draw.CatmullRom.Scale(thumb, thumb.Bounds(), img, img.Bounds(), draw.Src, nil)
	u.ThumbType, u.ThumbWidth, u.ThumbHeight = JPEG, tw, th
	if !opaque {
		u.ThumbType = PNG
	}
	u.Thumb, err = p.encode(thumb, u.ThumbType)
	return err
}

func (p *Processor) checkDims(w, h int) error {
	if w <= 0 || h <= 0 {
		return fmt.Errorf("%w: image has no pixels", ErrContent)
	}
	if w > p.cfg.MaxSide || h > p.cfg.MaxSide || int64(w)*int64(h) > p.cfg.MaxPixels {
		return fmt.Errorf("%w: %d×%d pixels, at most %d a side and %d in all", ErrDimensions, w, h, p.cfg.MaxSide, p.cfg.MaxPixels)
	}
	return nil
}

func (p *Processor) encode(img image.Image, t Type) ([]byte, error) {
	var buf bytes.Buffer
	var err error
	if t == JPEG {
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: p.cfg.JPEGQuality})
	} else {
		err = (&png.Encoder{CompressionLevel: png.DefaultCompression}).Encode(&buf, img)
	}
	if err != nil {
		return nil, fmt.Errorf("files: encode %s: %w", t, err)
	}
	return buf.Bytes(), nil
}

// fit returns the size of w×h scaled down (never up) to fit in box×box,
// at least 1×1.
func fit(w, h, box int) (int, int) {
	if w <= box && h <= box {
		return w, h
	}
	if w >= h {
		return box, max(1, int(int64(h)*int64(box)/int64(w)))
	}
	return max(1, int(int64(w)*int64(box)/int64(h))), box
}

func isOpaque(img image.Image) bool {
	if o, ok := img.(interface{ Opaque() bool }); ok {
		return o.Opaque()
	}
	return false
}

// orientImage returns img turned as EXIF orientation o says (1..8), so
// that it displays upright with no metadata. Orientation 1 returns img.
func orientImage(img image.Image, o int, opaque bool) image.Image {
	if o < 2 || o > 8 {
		return img
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	dw, dh := w, h
	if o >= 5 {
		dw, dh = h, w
	}
	// src maps a destination pixel to the source pixel (origin 0,0).
	src := func(dx, dy int) (int, int) {
		switch o {
		case 2:
			return w - 1 - dx, dy
		case 3:
			return w - 1 - dx, h - 1 - dy
		case 4:
			return dx, h - 1 - dy
		case 5:
			return dy, dx
		case 6:
			return dy, h - 1 - dx
		case 7:
			return w - 1 - dy, h - 1 - dx
		default: // 8
			return w - 1 - dy, dx
		}
	}
	if y, ok := img.(*image.YCbCr); ok {
		dst := image.NewRGBA(image.Rect(0, 0, dw, dh))
		for dy := 0; dy < dh; dy++ {
			row := dst.Pix[dy*dst.Stride:]
			for dx := 0; dx < dw; dx++ {
				sx, sy := src(dx, dy)
				sx, sy = sx+b.Min.X, sy+b.Min.Y
				yi, ci := y.YOffset(sx, sy), y.COffset(sx, sy)
				r, g, bl := color.YCbCrToRGB(y.Y[yi], y.Cb[ci], y.Cr[ci])
				row[4*dx], row[4*dx+1], row[4*dx+2], row[4*dx+3] = r, g, bl, 0xff
			}
		}
		return dst
	}
	// Other models: convert once to 8-bit RGBA (premultiplied when opaque,
	// straight otherwise), then move 4-byte pixels.
	var pix []byte
	var stride int
	var out image.Image
	var in []byte
	var inStride int
	if opaque {
		c := image.NewRGBA(image.Rect(0, 0, w, h))
		stddraw.Draw(c, c.Bounds(), img, b.Min, stddraw.Src)
		d := image.NewRGBA(image.Rect(0, 0, dw, dh))
		in, inStride, pix, stride, out = c.Pix, c.Stride, d.Pix, d.Stride, d
	} else {
		c := image.NewNRGBA(image.Rect(0, 0, w, h))
		stddraw.Draw(c, c.Bounds(), img, b.Min, stddraw.Src)
		d := image.NewNRGBA(image.Rect(0, 0, dw, dh))
		in, inStride, pix, stride, out = c.Pix, c.Stride, d.Pix, d.Stride, d
	}
	for dy := 0; dy < dh; dy++ {
		for dx := 0; dx < dw; dx++ {
			sx, sy := src(dx, dy)
			copy(pix[dy*stride+4*dx:dy*stride+4*dx+4], in[sy*inStride+4*sx:])
		}
	}
	return out
}
