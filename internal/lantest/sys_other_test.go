//go:build !linux

package lantest

import (
	"errors"
	"testing"
)

func TestNothingRunsWithoutLinux(t *testing.T) {
	if err := namespacesSupported(); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("namespacesSupported() = %v, want errors.ErrUnsupported", err)
	}
	if err := Guard("lansd-1-1-h1"); !errors.Is(err, ErrNotInNamespace) {
		t.Errorf("Guard = %v, want ErrNotInNamespace", err)
	}
	if err := observe(nil); err == nil {
		t.Error("observe succeeded without Linux")
	}
}
