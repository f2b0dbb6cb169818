package testtools

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// deadAddr is a loopback address nothing listens on (the discard port): every connection to it is refused at once.
const deadAddr = "http://127.0.0.1:9"

// CosignEnv is the environment that keeps the cosign CLI offline, with home as its home directory: HOME and the TUF
// cache are there, the TUF mirror is a closed loopback port with no cached root (so cosign does not even try it),
// and every HTTP(S) request goes to a proxy on a closed loopback port and fails.
func CosignEnv(home string) []string {
	return []string{
		"HOME=" + home,
		"TUF_ROOT=" + filepath.Join(home, ".sigstore"),
		"TUF_MIRROR=" + deadAddr,
		"HTTPS_PROXY=" + deadAddr,
		"HTTP_PROXY=" + deadAddr,
		"https_proxy=" + deadAddr,
		"http_proxy=" + deadAddr,
		"NO_PROXY=",
		"no_proxy=",
	}
}

// RunCosign runs the cosign CLI in dir, dir also its home, with the environment of CosignEnv (plus PATH and env), and
// returns its combined output.
func RunCosign(t testing.TB, dir string, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(Cosign.Binary(t), args...)
	cmd.Dir = dir
	cmd.Env = append(append([]string{"PATH=" + os.Getenv("PATH")}, CosignEnv(dir)...), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}
