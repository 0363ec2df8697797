package files

import (
	"errors"
	"fmt"
)

// Config bounds what Processor accepts. Zero values become the defaults
// named on each field.
type Config struct {
	// MaxSize is the largest upload in bytes. Zero: 5 MiB (5<<20).
	MaxSize int64
	// Types lists the non-image types accepted (see ParseTypes for config
	// names). Nil: DefaultTypes. An empty non-nil slice accepts images only.
	// Images (jpeg, png, gif, webp) are always accepted.
	Types []Type
	// MaxSide is the largest width or height of an image, in pixels.
	// Zero: 10000.
	MaxSide int
	// MaxPixels is the largest width×height of an image. It bounds the
	// memory a decode takes (4 to 8 bytes a pixel). Zero: 25,000,000.
	MaxPixels int64
	// ThumbSize is the box a thumbnail fits in, in pixels. Zero: 320.
	ThumbSize int
	// JPEGQuality is the quality of re-encoded JPEGs, 1..100. Zero: 85.
	JPEGQuality int
	// MaxUnpacked bounds the sum of an archive's uncompressed entry sizes,
	// declared and actually read. Zero: 100 MiB.
	MaxUnpacked int64
	// MaxRatio bounds an archive's uncompressed size over its own size.
	// Zero: 100.
	MaxRatio int64
	// MaxEntries bounds the number of entries in an archive. Zero: 10000.
	MaxEntries int
}

func (c *Config) fill() error {
	var errs []error
	def := func(v *int64, d int64, key string) {
		if *v == 0 {
			*v = d
		} else if *v < 0 {
			errs = append(errs, fmt.Errorf("files: %s must not be negative", key))
		}
	}
	def(&c.MaxSize, 5<<20, "max_size")
	def(&c.MaxPixels, 25_000_000, "max_pixels")
	def(&c.MaxUnpacked, 100<<20, "max_unpacked")
	def(&c.MaxRatio, 100, "max_ratio")
	side, thumb, q, ents := int64(c.MaxSide), int64(c.ThumbSize), int64(c.JPEGQuality), int64(c.MaxEntries)
	def(&side, 10000, "max_side")
	def(&thumb, 320, "thumb_size")
	def(&q, 85, "jpeg_quality")
	def(&ents, 10000, "max_entries")
	c.MaxSide, c.ThumbSize, c.JPEGQuality, c.MaxEntries = int(side), int(thumb), int(q), int(ents)
	if c.JPEGQuality > 100 {
		errs = append(errs, errors.New("files: jpeg_quality must be 1..100"))
	}
	if c.Types == nil {
		c.Types = DefaultTypes
	}
	for _, t := range c.Types {
		if !t.Valid() {
			errs = append(errs, fmt.Errorf("files: unknown type %q", t))
		}
	}
	return errors.Join(errs...)
}

// Processor checks uploads and prepares them for storage. It is safe for
// concurrent use; each Accept holds the image it decodes (about 4 bytes a
// pixel, twice while rotating), so the caller bounds how many run at once.
type Processor struct {
	cfg     Config
	allowed map[Type]bool
}

// NewProcessor returns a Processor for cfg, or every config problem at once.
func NewProcessor(cfg Config) (*Processor, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	p := &Processor{cfg: cfg, allowed: map[Type]bool{JPEG: true, PNG: true, GIF: true, WebP: true}}
	for _, t := range cfg.Types {
		p.allowed[t] = true
	}
	return p, nil
}

// Config returns the configuration in force, defaults filled in (MaxSize is
// what the server should bound its request body by).
func (p *Processor) Config() Config { return p.cfg }
