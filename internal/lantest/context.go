package lantest

import (
	"context"
	"testing"
	"time"
)

// Context returns a context that ends after d or when tb's test ends
// (tb.Context()), whichever comes first: the deadline of one test, or of
// one step of it. Use tb.Context() itself where no deadline is wanted.
func Context(tb testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(tb.Context(), d)
	tb.Cleanup(cancel)
	return ctx
}
