package main

import (
	"io"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"time"
)

// runtimeStatsEnv names the environment variable that makes lansd announce
// and lansd browse log the Go runtime's figures every so often (a Go
// duration, e.g. 5s), whatever -v says: the soak test (e2e TestSoak,
// scripts/soak.sh) reads them to tell a leak of goroutines or heap from a
// flat process. Unset or empty, nothing is logged.
const runtimeStatsEnv = "LANSD_RUNTIME_STATS"

// minRuntimeStatsPeriod is the shortest period runtimeStatsEnv accepts:
// runtime.ReadMemStats stops the world for a moment.
const minRuntimeStatsPeriod = 100 * time.Millisecond

// startRuntimeStats logs a "runtime" record at debug level on w every
// period given by value (runtimeStatsEnv's value; "" logs nothing), with
// the goroutine count and the heap, until the returned function is called
// (idempotent). The records have their own logger, so the command's other
// output, -v or not, is unchanged. A value that is not a duration of at
// least minRuntimeStatsPeriod is a usage error.
func startRuntimeStats(w io.Writer, value string) (stop func(), err error) {
	if value == "" {
		return func() {}, nil
	}
	period, err := time.ParseDuration(value)
	if err != nil || period < minRuntimeStatsPeriod {
		return nil, usageErrorf("%s=%q: want a duration of at least %v, e.g. 5s", runtimeStatsEnv, value, minRuntimeStatsPeriod)
	}
	log := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	emit := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		log.Debug("runtime", "pid", os.Getpid(), "goroutines", runtime.NumGoroutine(),
			"heap_inuse", ms.HeapInuse, "heap_objects", ms.HeapObjects, "sys", ms.Sys, "num_gc", ms.NumGC)
	}
	done := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		t := time.NewTicker(period)
		defer t.Stop()
		emit()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				emit()
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			<-exited
		})
	}, nil
}

// runtimeStats starts startRuntimeStats from the environment for command
// cmd; on a bad value it prints the error and returns ok false with the
// exit status.
func runtimeStats(env *cliEnv, cmd string) (stop func(), code int, ok bool) {
	stop, err := startRuntimeStats(env.stderr, os.Getenv(runtimeStatsEnv))
	if err != nil {
		return nil, fail(env, cmd, err), false
	}
	return stop, 0, true
}
