// Command rmqdriver runs the official RocketMQ 5 Go client (v5.1.4) for
// jetmq's kill -9 tests in a process of its own, built without the race
// detector. The client has data races of its own that any test binary
// running it through node failures reports: its 30 s route refresh reads
// the publishing load balancer's index that sends update atomically
// (loadBalancer.go:127 against producer.go:83), a push consumer's
// GracefulStop closes its pool while a receive submits to it
// (simple_thread_pool.go:85 against process_queue.go:523), and stopping
// a producer races its check answers. Out of the test binary the race
// detector checks jetmq's code and the test's, as CI runs them; the
// client runs as an application would, in its own process.
//
// The test drives it with one JSON command per line on stdin and reads
// what happened as one JSON event per line on stdout. It exits when
// stdin closes or on "quit".
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"time"

	rmq "github.com/apache/rocketmq-clients/golang/v5"
)

// command is one instruction from the test.
type command struct {
	// Op: "push" starts a push consumer of Group; "send" a paced sender;
	// "txn" paced transactional workers; "producer" one more
	// transactional producer answering checks from the ledger; "stop"
	// ends the senders and workers (after their Least) and answers
	// "stopped"; "quit" stops the push consumers and exits.
	Op    string `json:"op"`
	ID    string `json:"id"`    // names the consumer or sender in events
	Group string `json:"group"` // push: the consumer group
	// send: Rate messages a second, at least Least of them, body
	// fmt.Sprintf(Body, i); keyed by fmt.Sprintf(Key, i%Mod) when Key is
	// set, or in message group MsgGroup.
	Rate     int    `json:"rate"`
	Least    int    `json:"least"`
	Body     string `json:"body"`
	Key      string `json:"key"`
	Mod      int    `json:"mod"`
	MsgGroup string `json:"msg_group"`
	// txn: Workers workers, each Rate transactions a second and at least
	// Least of them.
	Workers int `json:"workers"`
}

// event is one thing that happened, for the test.
type event struct {
	// Ev: "ready" (a command took effect), "acked" (a send's receipt),
	// "retry" (a send failed and is sent again, fresh), "consumed" (a
	// push consumer was handed Body), "txn" (a transactional send's
	// receipt: Body, Plan, TxID), "abandoned" (a transactional send
	// failed: Body is rolled back if ever checked), "endretry", "check"
	// (a check asked about Body), "stopped", "failed" (a sender gave up
	// after a minute), "error" (a command failed).
	Ev   string `json:"ev"`
	ID   string `json:"id,omitempty"`
	Body string `json:"body,omitempty"`
	TxID string `json:"txid,omitempty"`
	Plan int    `json:"plan"`
	Err  string `json:"err,omitempty"`
}

// Transaction plans, numbered as the tests' txnLedger numbers them.
const (
	planCommit         = iota // commit right away
	planRollback              // roll back right away
	planSilentCommit          // say nothing; answer COMMIT when checked
	planSilentRollback        // say nothing; answer ROLLBACK when checked
)

type driver struct {
	endpoint, topic string
	outMu           sync.Mutex
	out             *json.Encoder

	stop    chan struct{}
	workers sync.WaitGroup

	ledgerMu sync.Mutex
	ledger   map[string]int // body -> plan

	consumers []rmq.PushConsumer
	producer  rmq.Producer // the plain producer the senders share
}

func main() {
	endpoint := flag.String("endpoint", "", "the RocketMQ endpoints, ';'-separated")
	topic := flag.String("topic", "orders", "the topic")
	flag.Parse()
	rmq.ResetLogger() // the test's environment names the log directory
	d := &driver{endpoint: *endpoint, topic: *topic, out: json.NewEncoder(os.Stdout), stop: make(chan struct{}), ledger: map[string]int{}}
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		var c command
		if err := json.Unmarshal(in.Bytes(), &c); err != nil {
			d.emit(event{Ev: "error", Err: "bad command: " + err.Error()})
			continue
		}
		if c.Op == "quit" {
			for _, pc := range d.consumers {
				_ = pc.GracefulStop()
			}
			return
		}
		if err := d.do(c); err != nil {
			d.emit(event{Ev: "error", ID: c.ID, Err: err.Error()})
			continue
		}
		d.emit(event{Ev: "ready", ID: c.ID})
	}
}

func (d *driver) emit(e event) {
	d.outMu.Lock()
	defer d.outMu.Unlock()
	_ = d.out.Encode(e)
}

func (d *driver) do(c command) error {
	switch c.Op {
	case "push":
		return d.push(c)
	case "send":
		if d.producer == nil {
			p, err := d.newProducer(nil)
			if err != nil {
				return err
			}
			d.producer = p
		}
		d.workers.Add(1)
		go d.send(c)
	case "txn":
		p, err := d.newProducer(d.checker())
		if err != nil {
			return err
		}
		for w := 0; w < c.Workers; w++ {
			d.workers.Add(1)
			go d.txnWorker(p, c, w)
		}
	case "producer":
		_, err := d.newProducer(d.checker())
		return err
	case "stop":
		close(d.stop)
		go func() {
			d.workers.Wait()
			d.emit(event{Ev: "stopped"})
		}()
	default:
		return fmt.Errorf("unknown op %q", c.Op)
	}
	return nil
}

func (d *driver) newProducer(checker *rmq.TransactionChecker) (rmq.Producer, error) {
	opts := []rmq.ProducerOption{rmq.WithTopics(d.topic)}
	if checker != nil {
		opts = append(opts, rmq.WithTransactionChecker(checker))
	}
	p, err := rmq.NewProducer(&rmq.Config{Endpoint: d.endpoint}, opts...)
	if err != nil {
		return nil, err
	}
	return p, p.Start()
}

func (d *driver) push(c command) error {
	pc, err := rmq.NewPushConsumer(&rmq.Config{Endpoint: d.endpoint, ConsumerGroup: c.Group},
		rmq.WithPushSubscriptionExpressions(map[string]*rmq.FilterExpression{d.topic: rmq.SUB_ALL}),
		rmq.WithPushMessageListener(&rmq.FuncMessageListener{Consume: func(mv *rmq.MessageView) rmq.ConsumerResult {
			d.emit(event{Ev: "consumed", ID: c.ID, Body: string(mv.GetBody())})
			return rmq.SUCCESS
		}}), rmq.WithPushConsumptionThreadCount(4))
	if err != nil {
		return err
	}
	if err := pc.Start(); err != nil {
		return err
	}
	d.consumers = append(d.consumers, pc)
	return nil
}

// stopped says whether the test asked the senders to stop.
func (d *driver) stopped() bool {
	select {
	case <-d.stop:
		return true
	default:
		return false
	}
}

// send sends c.Rate messages a second, each retried (a fresh message)
// until acknowledged, at least c.Least of them and on until stop.
func (d *driver) send(c command) {
	defer d.workers.Done()
	begin := time.Now()
	for i := 0; i < c.Least || !d.stopped(); i++ {
		time.Sleep(time.Until(begin.Add(time.Duration(i) * time.Second / time.Duration(c.Rate)))) // pacing
		body := fmt.Sprintf(c.Body, i)
		deadline := time.Now().Add(time.Minute)
		for {
			m := &rmq.Message{Topic: d.topic, Body: []byte(body)}
			if c.Key != "" {
				m.SetKeys(fmt.Sprintf(c.Key, i%max(c.Mod, 1)))
			}
			if c.MsgGroup != "" {
				m.SetMessageGroup(c.MsgGroup)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, err := d.producer.Send(ctx, m)
			cancel()
			if err == nil {
				d.emit(event{Ev: "acked", ID: c.ID, Body: body})
				break
			}
			if time.Now().After(deadline) {
				d.emit(event{Ev: "failed", ID: c.ID, Body: body, Err: err.Error()})
				return
			}
			d.emit(event{Ev: "retry", ID: c.ID, Err: err.Error()})
			time.Sleep(100 * time.Millisecond) // back off before the retry
		}
	}
}

func (d *driver) setPlan(body string, plan int) {
	d.ledgerMu.Lock()
	d.ledger[body] = plan
	d.ledgerMu.Unlock()
}

// checker answers checks from the ledger: UNKNOWN while the send has not
// returned, else as the body's plan says.
func (d *driver) checker() *rmq.TransactionChecker {
	return &rmq.TransactionChecker{Check: func(mv *rmq.MessageView) rmq.TransactionResolution {
		body := string(mv.GetBody())
		d.emit(event{Ev: "check", Body: body})
		d.ledgerMu.Lock()
		plan, ok := d.ledger[body]
		d.ledgerMu.Unlock()
		switch {
		case !ok:
			return rmq.UNKNOWN
		case plan == planCommit || plan == planSilentCommit:
			return rmq.COMMIT
		}
		return rmq.ROLLBACK
	}}
}

// txnWorker runs c.Rate transactions a second with random plans. A send
// that fails is abandoned (rolled back if it is ever checked) and tried
// again under a new body; an end that keeps failing is left to the
// checks, which answer the same.
func (d *driver) txnWorker(p rmq.Producer, c command, w int) {
	defer d.workers.Done()
	begin := time.Now()
	for i := 0; i < c.Least || !d.stopped(); i++ {
		time.Sleep(time.Until(begin.Add(time.Duration(i) * time.Second / time.Duration(c.Rate)))) // pacing
		plan := rand.IntN(4)
		for attempt := 0; ; attempt++ {
			body := "rtx-" + strconv.Itoa(w) + "-" + fmt.Sprintf("%05d", i) + "-" + strconv.Itoa(attempt)
			tx := p.BeginTransaction()
			m := &rmq.Message{Topic: d.topic, Body: []byte(body)}
			m.SetKeys("k" + strconv.Itoa(i%97))
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			res, err := p.SendWithTransaction(ctx, m, tx)
			cancel()
			if err != nil {
				d.setPlan(body, planSilentRollback)
				d.emit(event{Ev: "abandoned", Body: body, Plan: planSilentRollback, Err: err.Error()})
				time.Sleep(100 * time.Millisecond) // back off before the retry
				continue
			}
			d.setPlan(body, plan)
			d.emit(event{Ev: "txn", Body: body, Plan: plan, TxID: res[0].TransactionId})
			end := tx.Commit
			switch plan {
			case planRollback:
				end = tx.RollBack
			case planSilentCommit, planSilentRollback:
				end = nil
			}
			for try := 0; end != nil && try < 10; try++ {
				err := end()
				if err == nil {
					break
				}
				d.emit(event{Ev: "endretry", Err: err.Error()})
				time.Sleep(200 * time.Millisecond) // back off before the retry
			}
			break
		}
	}
}
