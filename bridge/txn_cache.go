package bridge

import (
	"sync"
	"time"
)

// txnCacheMaxBytes bounds the half-message bodies a node keeps in memory.
const txnCacheMaxBytes = 64 << 20

// txnCache keeps the transactions this node prepared recently, so that
// their commit needs no read. It is only a hint: every write built from it
// is guarded by the transaction's last sequence, and when that guard fails
// the coordinator reads the stream. An entry is complete because it was
// either read whole or extended by a write guarded by its own last
// sequence.
type txnCache struct {
	mu    sync.Mutex
	m     map[string]cachedTxn
	bytes int
}

type cachedTxn struct {
	rec   *txnRecord
	at    time.Time
	bytes int
}

func newTxnCache() *txnCache { return &txnCache{m: map[string]cachedTxn{}} }

func cacheKey(topic, txid string) string { return topic + "\x00" + txid }

func (c *txnCache) get(topic, txid string) *txnRecord {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[cacheKey(topic, txid)].rec
}

// put stores rec (which the caller no longer changes).
func (c *txnCache) put(rec *txnRecord, now time.Time) {
	size := 0
	for _, h := range rec.Halves {
		size += len(h.Data) + 256
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	k := cacheKey(rec.Topic, rec.ID)
	old, had := c.m[k]
	if c.bytes-old.bytes+size > txnCacheMaxBytes {
		if had {
			delete(c.m, k)
			c.bytes -= old.bytes
		}
		return
	}
	at := now
	if had {
		at = old.at
	}
	c.m[k] = cachedTxn{rec: rec, at: at, bytes: size}
	c.bytes += size - old.bytes
}

func (c *txnCache) drop(topic, txid string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := cacheKey(topic, txid)
	c.bytes -= c.m[k].bytes
	delete(c.m, k)
}

// sweep forgets transactions prepared before cutoff.
func (c *txnCache) sweep(cutoff time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.m {
		if e.at.Before(cutoff) {
			c.bytes -= e.bytes
			delete(c.m, k)
		}
	}
}
