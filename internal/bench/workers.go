package bench

import (
	"errors"
	"sync"
	"time"
)

// runRequests runs op for i = 0..n-1 on workers goroutines (so that many
// requests are in flight), records each op's latency and reports progress.
// It stops feeding at the first error or when env's duration bound ends
// the phase, and returns the latencies of the ops that succeeded and the
// elapsed time.
func runRequests(env *Env, n, workers int, op func(i int) error) (*Latencies, time.Duration, error) {
	lat := NewLatencies(n)
	var mu sync.Mutex
	next := make(chan int, workers)
	errs := make(chan error, workers)
	start := time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				at := time.Now()
				if err := op(i); err != nil {
					errs <- err
					return
				}
				mu.Lock()
				lat.Record(time.Since(at))
				env.Progress(lat.Len(), n)
				mu.Unlock()
			}
		}()
	}
	var runErr error
feed:
	for i := 0; i < n && !env.Expired(start); i++ {
		select {
		case next <- i:
		case runErr = <-errs:
			break feed
		}
	}
	close(next)
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	return lat, elapsed, errors.Join(runErr, <-errs)
}
