package tests

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/ordercheck"
	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/nats-io/nats.go"
)

// rawOrderedMember is an ordered-group member written against
// docs/PROTOCOL.md ("Ordered groups") with core nats.go only: JSON by
// hand, pulls through $JS.API.CONSUMER.MSG.NEXT, acks by replying +ACK.
type rawOrderedMember struct {
	t      *testing.T
	nc     *nats.Conn
	id     string
	c      *ordercheck.Checker
	join   map[string]any
	mu     sync.Mutex
	owned  map[int]uint64 // partition -> epoch
	next   map[int]uint64 // partition -> last acked seq + 1
	dseq   map[int]uint64 // partition -> consumer sequence of the last delivery at this epoch
	quit   chan struct{}
	poke   chan struct{} // a push on assign_subject: heartbeat now
	done   sync.WaitGroup
	last   time.Time // send time of the heartbeat whose answer was applied last
	leases map[int]time.Time
	gaveUp map[int]uint64 // partition -> the epoch given up last (lease ran out, released, refused)
	url    string
	topic  string
	group  string
	left   []byte // the answer to LEAVE
}

func (r *rawOrderedMember) str(k string) string { return r.join[k].(string) }

func startRawOrderedMember(t *testing.T, url, topic, group, id string, c *ordercheck.Checker) *rawOrderedMember {
	nc := testutil.Connect(t, url)
	r := &rawOrderedMember{t: t, nc: nc, id: id, c: c, owned: map[int]uint64{}, next: map[int]uint64{}, dseq: map[int]uint64{},
		leases: map[int]time.Time{}, gaveUp: map[int]uint64{}, quit: make(chan struct{}), poke: make(chan struct{}, 1),
		url: url, topic: topic, group: group}
	join, err := r.requestJoin()
	if err != nil {
		t.Fatal(err)
	}
	r.join = join
	if _, err := nc.Subscribe(r.str("assign_subject"), func(*nats.Msg) {
		select {
		case r.poke <- struct{}{}:
		default:
		}
	}); err != nil {
		t.Fatal(err)
	}
	r.done.Add(2)
	go r.heartbeats()
	go r.consume()
	return r
}

// requestJoin joins (step 1); a member refused with 403 joins again for
// a new token.
func (r *rawOrderedMember) requestJoin() (map[string]any, error) {
	resp, err := r.nc.Request("$MQ.GROUP.JOIN."+r.topic+"."+r.group, []byte(`{"member":"`+r.id+`","protocols":["ordered"],"create":{"ordered":true,"start":"all","session_timeout":"1s"}}`), 5*time.Second)
	if err != nil {
		return nil, err
	}
	var join map[string]any
	if err := json.Unmarshal(resp.Data, &join); err != nil || join["protocol"] != "ordered" {
		return nil, fmt.Errorf("join reply %s (%v)", resp.Data, err)
	}
	return join, nil
}

// tokenBody is a request body with the member token and more fields
// (",\"k\":v…").
func (r *rawOrderedMember) tokenBody(more string) []byte {
	return []byte(`{"token":"` + r.str("member_token") + `"` + more + `}`)
}

// giveUp stops handing out p (caller holds mu) and remembers its epoch,
// so that an assignment still listing p at that epoch is released again
// (step 6).
func (r *rawOrderedMember) giveUp(p int) {
	r.gaveUp[p] = r.owned[p]
	delete(r.owned, p)
}

// release requests release_subject for p at epoch (caller holds mu).
func (r *rawOrderedMember) release(p int, epoch uint64, refence bool) {
	body := r.tokenBody(fmt.Sprintf(`,"partition":%d,"epoch":%d,"next_seq":%d,"refence":%v`, p, epoch, r.next[p], refence))
	go func() { _, _ = r.nc.Request(r.str("release_subject"), body, 2*time.Second) }()
}

func (r *rawOrderedMember) heartbeats() {
	defer r.done.Done()
	session := time.Duration(r.join["session_timeout_ms"].(float64)) * time.Millisecond
	for {
		sent := time.Now()
		// This member never waits for a retry: nothing is suspended.
		if resp, err := r.nc.Request(r.str("heartbeat_subject"), r.tokenBody(`,"suspended":[],"leaving":false`), session/3); err == nil {
			r.apply(resp.Data, sent)
		}
		select {
		case <-r.quit:
			return
		case <-r.poke:
		case <-time.After(session / 3):
		}
	}
}

// apply follows an assignment: new epochs start clean, revoked
// partitions are released with next_seq (this member only ever holds the
// message in hand, so releasing is immediate), leases are renewed from the
// heartbeat's send time.
func (r *rawOrderedMember) apply(data []byte, sent time.Time) {
	var a struct {
		Error *struct {
			Code int `json:"code"`
		} `json:"error"`
		Leases []struct {
			Partition int    `json:"partition"`
			Epoch     uint64 `json:"epoch"`
			State     string `json:"state"`
		} `json:"leases"`
	}
	if json.Unmarshal(data, &a) != nil {
		return
	}
	session := time.Duration(r.join["session_timeout_ms"].(float64)) * time.Millisecond
	r.mu.Lock()
	defer r.mu.Unlock()
	if a.Error != nil {
		// 403: this session's token is not (or no longer) taken; 409:
		// another session of this id is live. Either way this member
		// owns nothing; after a 403 it joins again.
		if a.Error.Code == 403 || a.Error.Code == 409 {
			for p := range r.owned {
				r.giveUp(p)
			}
		}
		if a.Error.Code == 403 {
			// join again off the lock (the readers of r.join take no
			// lock: fine here, where tokens stay valid and this never runs)
			go func() {
				if join, err := r.requestJoin(); err == nil {
					r.mu.Lock()
					r.join = join
					r.mu.Unlock()
				}
			}()
		}
		return
	}
	if a.Leases == nil {
		return
	}
	if !sent.After(r.last) {
		return // answers an older heartbeat than one applied
	}
	r.last = sent
	listed := map[int]bool{}
	for _, l := range a.Leases {
		listed[l.Partition] = true
		if l.State == "revoking" || r.gaveUp[l.Partition] == l.Epoch {
			// revoked, or listed at an epoch given up: release (again)
			if _, held := r.owned[l.Partition]; held {
				r.giveUp(l.Partition)
			}
			r.release(l.Partition, l.Epoch, false)
			continue
		}
		if r.owned[l.Partition] != l.Epoch {
			r.owned[l.Partition] = l.Epoch
			r.next[l.Partition] = 0
			r.dseq[l.Partition] = 0
			r.leases[l.Partition] = time.Time{}
		}
		r.leases[l.Partition] = sent.Add(session * 9 / 10)
	}
	for p := range r.owned {
		if !listed[p] {
			delete(r.owned, p)
		}
	}
}

// consume pulls one message at a time from each owned partition's
// consumer and handles it only while the lease is valid.
func (r *rawOrderedMember) consume() {
	defer r.done.Done()
	inbox := r.nc.NewRespInbox()
	sub, err := r.nc.SubscribeSync(inbox)
	if err != nil {
		return
	}
	defer sub.Unsubscribe()
	consumers := r.join["consumers"].([]any)
	stream := r.str("stream")
	for {
		select {
		case <-r.quit:
			return
		default:
		}
		r.mu.Lock()
		var parts []int
		for p := range r.owned {
			if time.Now().Before(r.leases[p]) {
				parts = append(parts, p)
			} else {
				r.giveUp(p) // the lease ran out (step 3)
			}
		}
		r.mu.Unlock()
		if len(parts) == 0 {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		for _, p := range parts {
			r.pullOne(sub, inbox, stream, consumers[p].(string), p)
		}
	}
}

func (r *rawOrderedMember) pullOne(sub *nats.Subscription, inbox, stream, consumer string, p int) {
	_ = r.nc.PublishRequest("$JS.API.CONSUMER.MSG.NEXT."+stream+"."+consumer, inbox, []byte(`{"batch":1,"no_wait":true}`))
	m, err := sub.NextMsg(time.Second)
	if err != nil || !strings.HasPrefix(m.Reply, "$JS.ACK.") {
		return // 404 no messages, 408, or nothing
	}
	// $JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<timestamp>.<pending>
	toks := strings.Split(m.Reply, ".")
	sseq, _ := strconv.ParseUint(toks[5], 10, 64)
	dseq, _ := strconv.ParseUint(toks[6], 10, 64)
	sm := strings.Split(m.Subject, ".")
	r.mu.Lock()
	epoch := r.owned[p]
	ok := epoch != 0 && time.Now().Before(r.leases[p])
	gap := dseq > r.dseq[p]+1
	if ok && !gap {
		r.dseq[p] = dseq // a sequence going back is no gap
	}
	if ok && gap {
		r.giveUp(p) // a delivery went elsewhere: have it fenced again
		r.release(p, epoch, true)
	}
	r.mu.Unlock()
	if !ok || gap {
		return // the lease ran out meanwhile, or a gap: leave it for the fence
	}
	if sseq < r.next[p] {
		_ = m.Respond([]byte("+ACK")) // acked before: ack again, skip
		return
	}
	start := time.Now()
	r.c.Record(ordercheck.Event{Partition: p, Key: sm[2], Seq: sseq, Member: r.id, Start: start, End: time.Now(), OK: true})
	_ = m.Respond([]byte("+ACK"))
	r.mu.Lock()
	r.next[p] = sseq + 1
	r.mu.Unlock()
}

// stop leaves as PROTOCOL.md step 7 says: a leaving heartbeat, then a
// release of every partition, then LEAVE as a request, whose answer is
// kept in left.
func (r *rawOrderedMember) stop() {
	close(r.quit)
	r.done.Wait()
	session := time.Duration(r.join["session_timeout_ms"].(float64)) * time.Millisecond
	_, _ = r.nc.Request(r.str("heartbeat_subject"), r.tokenBody(`,"leaving":true`), session/3)
	r.mu.Lock()
	for p, e := range r.owned {
		body := r.tokenBody(fmt.Sprintf(`,"partition":%d,"epoch":%d,"next_seq":%d`, p, e, r.next[p]))
		_, _ = r.nc.Request(r.str("release_subject"), body, 2*time.Second)
	}
	r.owned = map[int]uint64{}
	r.mu.Unlock()
	if resp, err := r.nc.Request(r.str("leave_subject"), r.tokenBody(""), 2*time.Second); err == nil {
		r.left = resp.Data
	}
}

// TestOrderedRawMember: a member written with plain nats.go from
// PROTOCOL.md shares an ordered group with a Go-helper member; order,
// exclusivity and completeness hold across the handover between them.
func TestOrderedRawMember(t *testing.T) {
	s := testutil.StartServer(t)
	nc := testutil.Connect(t, s.ClientURL())
	orderedTopic(t, nc, "raw", 4, 1)
	c := ordercheck.New()
	raw := startRawOrderedMember(t, s.ClientURL(), "raw", "g", "raw1", c)
	p := newProducer(t, nc)
	publishKeyed(t, p, c, "raw", 0, 300, 40)
	waitChecked(t, c, 300, 30*time.Second)
	om := newOrderedMembers(t, s.ClientURL, c, "raw", "g", nil)
	helper := om.start("helper")
	testutil.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if n := len(helper.OrderedPartitions()); n != 2 {
			return fmt.Errorf("helper owns %d partitions", n)
		}
		return nil
	})
	publishKeyed(t, p, c, "raw", 300, 300, 40)
	waitChecked(t, c, 600, 30*time.Second)
	before := grantsTotal(t, s.HTTPAddr(), "g")
	raw.stop()
	testutil.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if n := len(helper.OrderedPartitions()); n != 4 {
			return fmt.Errorf("helper owns %d partitions", n)
		}
		return nil
	})
	// Leaving is a state of its own: each of raw1's two partitions is
	// granted once, to helper, never back to raw1.
	if got := grantsTotal(t, s.HTTPAddr(), "g") - before; got != 2 {
		t.Errorf("%d grants while raw1 left, want 2 (each of its partitions once, to helper)", got)
	}
	if string(raw.left) != `{"ok":true}` {
		t.Errorf("LEAVE answered %q, want {\"ok\":true}", raw.left)
	}
	publishKeyed(t, p, c, "raw", 600, 300, 40)
	r := waitChecked(t, c, 900, 30*time.Second)
	if r.Members["raw1"] == 0 || r.Members["helper"] == 0 {
		t.Fatalf("members %v", r.Members)
	}
}
