package files

// Upload is an accepted upload, ready to store.
type Upload struct {
	// Type is the type of Data: for images the re-encoded type (JPEG or
	// PNG, whatever came in), for files the detected type.
	Type Type
	// Name is the client's file name made safe (SafeName) with an
	// extension that matches Type.
	Name string
	// Data is what to store and serve: the re-encoded image, or the file
	// exactly as received.
	Data []byte
	// Thumb is the thumbnail of an image (nil for files), of ThumbType,
	// ThumbWidth×ThumbHeight, fitting in Config.ThumbSize.
	Thumb                   []byte
	ThumbType               Type
	ThumbWidth, ThumbHeight int
	// Width and Height of an image after orientation; zero for files.
	Width, Height int
}

// IsImage reports whether u is an image (shown inline, has a thumbnail).
func (u *Upload) IsImage() bool { return u.Type.IsImage() }

// Accept checks an upload and prepares it for storage. data is the whole
// file (the caller reads at most Config().MaxSize+1 bytes and passes what it
// read, so an oversized body is refused here); name is the client's name,
// used only for display and the download name, never to decide the type.
//
// Errors wrap ErrTooLarge, ErrDimensions, ErrType or ErrContent (map them
// with Code); anything else is an internal failure.
func (p *Processor) Accept(data []byte, name string) (*Upload, error) {
	t, err := p.Detect(data)
	if err != nil {
		return nil, err
	}
	u := &Upload{Type: t}
	if t.IsImage() {
		if err := p.processImage(data, t, u); err != nil {
			return nil, err
		}
	} else {
		u.Data = data
	}
	u.Name = SafeName(name, u.Type)
	return u, nil
}
