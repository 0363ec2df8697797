package store

import "context"

// Exporter is implemented by stores that can list their messages in id
// order, for `pollchat export` and moving from one store to another.
type Exporter interface {
	// Export returns up to limit messages with ID > after, oldest first:
	// those of conv, or every message when conv is "".
	Export(ctx context.Context, conv Conv, after int64, limit int) ([]Message, error)
}

// Importer is implemented by stores that can take messages with their ids.
type Importer interface {
	// ImportMessages stores msgs keeping ID, TS and every other field, and
	// skips a message whose ID is stored already, so importing the same file
	// twice is harmless. It says how many it stored. Later SaveMessage ids
	// are above every imported one.
	ImportMessages(ctx context.Context, msgs []Message) (int, error)
}
