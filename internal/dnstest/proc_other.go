//go:build !unix

package dnstest

import "os/exec"

// detach does nothing here: process groups are a Unix notion.
func detach(*exec.Cmd) {}
