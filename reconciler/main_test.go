package reconciler_test

import (
	"flag"
	"io"
	"log/slog"
	"os"
	"testing"

	"k8s.io/klog/v2"
)

// TestMain keeps the embedded transparency log's klog chatter out of the test output.
func TestMain(m *testing.M) {
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	fs.Set("logtostderr", "false")
	fs.Set("stderrthreshold", "FATAL")
	klog.SetOutput(io.Discard)
	code := m.Run()
	for i := len(benchCleanup) - 1; i >= 0; i-- {
		benchCleanup[i]()
	}
	os.Exit(code)
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
