package notify

import (
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/lansd/lansd/sd"
)

// drain receives what is buffered, without waiting, and the channel's
// state: false once it is closed.
func drain(s *Stream) ([]string, bool) {
	var out []string
	for {
		select {
		case ev, ok := <-s.Events():
			if !ok {
				return out, false
			}
			out = append(out, ev.Reason)
		default:
			return out, true
		}
	}
}

func ev(reason string) sd.RegistrationEvent {
	return sd.RegistrationEvent{Kind: sd.Announced, Old: "a", New: "a", Reason: reason}
}

// Delivery never blocks: past Buffer unread events the oldest are dropped.
func TestDeliverDropsOldest(t *testing.T) {
	s := New("a")
	for i := range Buffer + 3 {
		s.Deliver(ev(fmt.Sprint(i)))
	}
	got, open := drain(s)
	assert.True(t, open)
	var want []string
	for i := 3; i < Buffer+3; i++ {
		want = append(want, fmt.Sprint(i))
	}
	assert.Equal(t, want, got)
}

// Deliver stamps the event with the time it is delivered.
func TestDeliverStampsTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New("a")
		time.Sleep(time.Minute)
		at := time.Now()
		s.Deliver(sd.RegistrationEvent{Kind: sd.Removed, Time: at.Add(-time.Hour)})
		got := <-s.Events()
		assert.Equal(t, at, got.Time)
		assert.Equal(t, sd.Removed, got.Kind)
	})
}

// Close closes the channel once; what was buffered is still received, and
// later deliveries are dropped.
func TestClose(t *testing.T) {
	s := New("a")
	s.Deliver(ev("before"))
	s.Close()
	s.Close()
	s.Deliver(ev("after"))
	got, open := drain(s)
	assert.Equal(t, []string{"before"}, got)
	assert.False(t, open)
}

// The name and the rename are what was last recorded.
func TestNameAndRenamed(t *testing.T) {
	s := New("Office TZ._timezone._tcp.local.")
	assert.Equal(t, "Office TZ._timezone._tcp.local.", s.Name())
	renamed, reason := s.Renamed()
	assert.False(t, renamed)
	assert.Empty(t, reason)

	s.SetName("Office TZ._timezone._tcp.local.")
	s.SetRenamed("Office TZ (2)._timezone._tcp.local.", "taken")
	assert.Equal(t, "Office TZ (2)._timezone._tcp.local.", s.Name())
	renamed, reason = s.Renamed()
	assert.True(t, renamed)
	assert.Equal(t, "taken", reason)
	s.SetName("Office TZ (3)._timezone._tcp.local.")
	assert.Equal(t, "Office TZ (3)._timezone._tcp.local.", s.Name())
	renamed, _ = s.Renamed()
	assert.True(t, renamed, "a later name keeps the rename")
}

// A writer delivering while a reader reads and another goroutine closes:
// no race, no send on a closed channel (go test -race).
func TestConcurrent(t *testing.T) {
	s := New("a")
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 1000 {
			s.Deliver(ev(fmt.Sprint(i)))
			s.SetName(fmt.Sprint(i))
		}
	}()
	go s.Close()
	for range s.Events() {
		_ = s.Name()
	}
	<-done
	assert.Equal(t, "999", s.Name())
}
