package tlog

import (
	"context"
	"fmt"
	"net/url"

	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	rekorclient "github.com/sigstore/rekor-tiles/v2/pkg/client"
	"github.com/sigstore/rekor-tiles/v2/pkg/client/write"
	"github.com/sigstore/sigstore-go/pkg/sign"
)

// Remote is a Rekor v2 (rekor-tiles) server: entries are written to its API
// at the base URL, tiles and checkpoints are read from key.BaseURL (the same
// URL for the public Sigstore instances; a static file server in front of
// the POSIX storage directory for rekor-tiles' posix server).
type Remote struct {
	baseURL string
	key     LogKey
	writer  write.Client
	reader  *Reader
}

// NewRemote returns the Rekor v2 server at baseURL whose checkpoints key
// verifies. When key.BaseURL is empty the tiles are read from baseURL. opts
// (timeout, user agent, TLS) apply to both writing and reading.
func NewRemote(baseURL string, key LogKey, opts ...rekorclient.Option) (*Remote, error) {
	if u, err := url.Parse(baseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("rekor URL %q: want an http(s) URL", baseURL)
	}
	if key.BaseURL == "" {
		key.BaseURL = baseURL
	}
	w, err := write.NewWriter(baseURL, opts...)
	if err != nil {
		return nil, fmt.Errorf("rekor writer for %s: %w", baseURL, err)
	}
	r, err := NewReader(key, opts...)
	if err != nil {
		return nil, err
	}
	return &Remote{baseURL: baseURL, key: key, writer: w, reader: r}, nil
}

var _ sign.RekorV2Client = (*Remote)(nil)

// Add appends an entry (a *rekortilespb.HashedRekordRequestV002) through the
// server's API. The server answers a duplicate of an entry it remembers with
// 409 Conflict, which Add returns as an error.
func (r *Remote) Add(ctx context.Context, entry any) (*protorekor.TransparencyLogEntry, error) {
	tle, err := r.writer.Add(ctx, entry)
	if err != nil {
		return nil, fmt.Errorf("append to %s: %w", r.baseURL, err)
	}
	return tle, nil
}

// Transparency returns the server as a sigstore-go transparency log.
func (r *Remote) Transparency() sign.Transparency {
	return sign.NewRekor(&sign.RekorOptions{BaseURL: r.baseURL, Version: 2, ClientV2: r.writer})
}

// LogKey returns the log's origin, tiles URL and public key.
func (r *Remote) LogKey() LogKey { return r.key }

// Reader returns a Reader over the server's tiles.
func (r *Remote) Reader() *Reader { return r.reader }

// Close releases nothing; it makes Remote and Embedded interchangeable.
func (r *Remote) Close() error { return nil }
