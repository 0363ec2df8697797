// Package files is the core of attachments: it recognises an upload by its
// content, refuses what is hostile or too big, re-encodes images (dropping
// their metadata and any payload hidden in them) and makes thumbnails, signs
// short-lived URLs bound to a conversation, keeps blobs on disk, and says
// which headers a stored file is served with.
//
// It knows nothing of HTTP servers, chat or the store: the server calls
// [Processor.Accept] on an upload, keeps the bytes with a [Blobs], signs URLs
// with a [Signer] when it hands a message out, and sets [Headers] when it
// serves one. Every refusal wraps one of the sentinel errors below, and
// [Code] maps it to the protocol's error code.
package files
