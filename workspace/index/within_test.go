package index

import (
	"errors"
	"testing"
	"time"
)

// within gives up on a call that never returns (bleve's batch on a store
// whose persister failed) and passes through one that does.
func TestWithinGivesUp(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	err := within(20*time.Millisecond, func() error { <-block; return nil })
	if !errors.Is(err, errStuck) {
		t.Fatalf("a call that never returns: %v", err)
	}
	boom := errors.New("boom")
	if err := within(time.Second, func() error { return boom }); err != boom {
		t.Fatalf("a call that returns: %v", err)
	}
}
