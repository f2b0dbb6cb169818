// Package tlog is maestro's transparency log: the Rekor v2 log that promotion
// attestations and execution receipts are appended to.
//
// By default the log is Embedded: a tessera log with POSIX storage in a local
// directory ($MAESTRO_HOME/log), appended to in process and shared by every
// maestro process on the machine. When configured it is a Remote rekor-tiles
// server. Both take hashedrekord v0.0.2 entries and return the
// TransparencyLogEntry a Sigstore bundle carries, and both can stand behind
// sigstore-go's sign.Bundle through their Transparency method.
//
// A Reader verifies what the log says: checkpoints against the log's key
// (LogKey), entries and inclusion proofs against checkpoints, and every new
// checkpoint against the ones it saw before. Rekor v2 has no search, so the
// "first log entry for a key wins" rule of promotions is kept in an Index
// beside the log (FileIndex); see Index for what it can and cannot prove.
//
// Layout of an embedded log directory:
//
//	log.key    Ed25519 checkpoint signing key, PKCS#8 PEM, mode 0600
//	log.pub    its public key, PKIX PEM
//	origin     the checkpoint origin
//	tiles/     tessera's POSIX log (checkpoint, tile/, .state/): safe to serve read-only
//	index/     the first-seen FileIndex
package tlog
