package attest

// NewKeypairForTest exposes the sign.Keypair adapter to the external tests,
// which need it to sign bundles SignBundle refuses to make.
var NewKeypairForTest = newKeypair
