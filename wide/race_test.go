package wide

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/dnstest"
	"github.com/lansd/lansd/sd"
)

// Close racing with Add (issue 10): Add takes the service in, Close runs
// before Add has sent anything, and Add then goes on. Whatever the
// interleaving, Close must leave the zone as it found it and Add must
// either fail (ErrClosed) or return a service that Close removed.

// closeDuringAdd makes the next Add run Close (in another goroutine) once
// the registrar has taken the service in and before anything is sent; Add
// goes on when Close has returned, or after wait if Close waits for it. It
// returns Close's error when Close has returned.
func closeDuringAdd(t *testing.T, wait time.Duration) <-chan error {
	t.Helper()
	closed := make(chan error, 1)
	var once sync.Once
	testHookAdding = func(r *Registrar) {
		once.Do(func() {
			done := make(chan struct{})
			go func() {
				defer close(done)
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				closed <- r.Close(ctx)
			}()
			select {
			case <-done:
			case <-time.After(wait):
			}
		})
	}
	t.Cleanup(func() { testHookAdding = nil })
	return closed
}

func TestRegistrarCloseDuringAddLeavesNothing(t *testing.T) {
	s := dnstest.StartBIND(t, regZone)
	before := s.Snapshot(t)
	closed := closeDuringAdd(t, 500*time.Millisecond)
	r, err := NewRegistrar(regOptions(t, s))
	require.NoError(t, err)

	reg, err := r.Add(regCtx(t), officeTZ(t))
	var cerr error
	select {
	case cerr = <-closed:
	case <-time.After(30 * time.Second):
		t.Fatal("Close did not return")
	}
	require.NoError(t, cerr, "Close")
	if err == nil {
		// Add won: Close must have removed the service.
		t.Logf("Add returned %q", reg.Name())
	} else {
		assert.ErrorIs(t, err, ErrClosed)
	}
	assert.Equal(t, before, s.Snapshot(t), "Close leaves the zone as it found it, even with an Add in flight")
}

// The same race without a hook: services added concurrently while Close
// runs after 0-6 ms, while they are in flight. The zone must end as it
// began.
func TestRegistrarCloseDuringAddsStress(t *testing.T) {
	s := dnstest.StartBIND(t, regZone)
	before := s.Snapshot(t)
	for round := range 20 {
		o := regOptions(t, s)
		o.Logger = slog.New(slog.DiscardHandler)
		r, err := NewRegistrar(o)
		require.NoError(t, err)
		ctx := regCtx(t)
		var wg sync.WaitGroup
		const n = 8
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				svc := officeTZ(t)
				svc.Instance = fmt.Sprintf("Clock %d", i)
				_, errs[i] = r.Add(ctx, svc)
			}()
		}
		time.Sleep(time.Duration(round) * 300 * time.Microsecond)
		require.NoError(t, r.Close(ctx), "round %d", round)
		wg.Wait()
		added := 0
		for _, err := range errs {
			switch {
			case err == nil:
				added++
			case !errors.Is(err, ErrClosed):
				t.Errorf("round %d: Add: %v", round, err)
			}
		}
		t.Logf("round %d: %d of %d added before Close", round, added, n)
		_, err = r.Add(ctx, sd.Service{Instance: "Late", Type: "timezone", Port: 1, TXT: regTXT(t, "path=/")})
		assert.ErrorIs(t, err, ErrClosed)
		require.Equal(t, before, s.Snapshot(t), "round %d: records left in the zone", round)
	}
}
