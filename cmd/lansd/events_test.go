package main

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/lansd/lansd/announce"
	"github.com/lansd/lansd/sd"
	"github.com/lansd/lansd/txt"
)

// fakeHandle is a pubHandle for eventCutoff's tests.
type fakeHandle struct{ name string }

func (f *fakeHandle) Name() string                                { return f.name }
func (f *fakeHandle) Renamed() (bool, string)                     { return false, "" }
func (f *fakeHandle) Events() <-chan sd.RegistrationEvent         { return nil }
func (f *fakeHandle) UpdateTXT(context.Context, txt.Record) error { return nil }
func (f *fakeHandle) Remove(context.Context) error                { return nil }

// lansd announce prints each service's events from its announced line on,
// from one stream: earlier ones are dropped, those of a service whose line
// is not printed yet wait for it, and a removed service is forgotten.
func TestEventCutoff(t *testing.T) {
	var printed []string
	c := newEventCutoff(func(ev announce.Event) { printed = append(printed, ev.Kind.String()+" "+ev.New) })
	t0 := time.Now()
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	a, b := &fakeHandle{"A"}, &fakeHandle{"B"}
	c.watch(a, at(time.Second))
	c.deliver(a, announce.Event{Kind: announce.EventAnnounced, New: "A", Time: at(0)})
	c.deliver(a, announce.Event{Kind: announce.EventConflict, New: "A", Time: at(2 * time.Second)})
	// B's events come before its line is printed (a reload's Add).
	c.deliver(b, announce.Event{Kind: announce.EventAnnounced, New: "B", Time: at(3 * time.Second)})
	c.deliver(b, announce.Event{Kind: announce.EventRenamed, New: "B (2)", Time: at(5 * time.Second)})
	assert.Equal(t, []string{"conflict A"}, printed)
	c.watch(b, at(4*time.Second))
	assert.Equal(t, []string{"conflict A", "renamed B (2)"}, printed)
	c.deliver(a, announce.Event{Kind: announce.EventRemoved, New: "A", Time: at(6 * time.Second)})
	assert.NotContains(t, c.since, pubHandle(a))
	// A failed Add: its events end with Removed, and nothing is kept.
	x := &fakeHandle{"X"}
	c.deliver(x, announce.Event{Kind: announce.EventConflict, New: "X", Time: at(7 * time.Second)})
	c.deliver(x, announce.Event{Kind: announce.EventRemoved, New: "X", Time: at(8 * time.Second)})
	assert.Empty(t, c.waiting)
}
