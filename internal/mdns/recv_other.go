//go:build !linux

package mdns

import "context"

// openSocket opens family f's socket with the net package and x/net (see
// listenSocket).
func openSocket(ctx context.Context, f Family) (familyConn, error) { return listenNet(ctx, f) }
