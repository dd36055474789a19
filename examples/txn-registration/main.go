// Command txn-registration shows transactional consistency with a half
// message: the welcome email is sent if and only if the registration was
// stored. The registration is the local transaction of SendInTransaction;
// the example runs
//
//  1. a registration that succeeds: committed, email sent;
//  2. one that fails (the email address is taken): rolled back, no email,
//     ever;
//  3. a producer that "crashes" right after its local commit, before it
//     could commit the message: the broker asks the producer group
//     (check-back), another instance finds the user in the database and
//     answers COMMIT, and the email goes out.
//
// Run it with
//
//	go run ./examples/txn-registration [-s nats://127.0.0.1:4222]
package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jetmq/jetmq/examples/internal/exampleutil"
	"github.com/jetmq/jetmq/semantics"
	"github.com/jetmq/jetmq/server"
	"github.com/nats-io/nats.go"
)

var example = exampleutil.Example{
	Name:  "txn-registration",
	About: "transactional consistency: an email for every stored registration, none for a failed one",
	// Check forgotten transactions after 1 s (default 6 s) so the crash
	// is recovered quickly. Against a running server the messages' own
	// Mq-Check-Immunity header (below) does the same.
	Configure: func(c *server.Config) {
		c.Transactions.CheckImmunity = time.Second
		c.Transactions.CheckInterval = time.Second
	},
	Run: run,
}

func main() { example.Main() }

const producerGroup = "registration"

func run(ctx context.Context, env *exampleutil.Env) error {
	topic, err := env.CreateTopic(ctx, "welcome", 4)
	if err != nil {
		return err
	}
	db := newUserDB()
	db.insert("bob", "bob@example.com", "") // bob is a customer already

	emails := newOutbox()
	sub, err := semantics.Subscribe(ctx, env.NC, topic, "email", func(ctx context.Context, d *semantics.Delivery) error {
		emails.add(d.Key)
		return nil
	}, semantics.WithStart(semantics.StartAll))
	if err != nil {
		return err
	}
	env.ForgetGroup(topic, "email")
	defer func() { _ = exampleutil.StopAll(sub) }()

	// The registration service. Its Checker answers the broker's
	// check-back for the whole producer group from the database.
	service, err := semantics.NewTransactionProducer(env.NC, producerGroup, semantics.CheckerFunc(
		func(ctx context.Context, r *semantics.CheckRequest) semantics.LocalTxState {
			state := db.txnState(r.TxnID)
			env.Printf("   check-back #%d for %s: database says %s", r.Attempt, r.TxnID, state)
			return state
		}))
	if err != nil {
		return err
	}
	defer service.Close()

	// 1. Success.
	alice, err := register(ctx, service, db, topic, "alice", "alice@example.com", nil)
	if err != nil || alice.State != semantics.TxnStateCommit {
		return fmt.Errorf("alice: want COMMIT, got %q, %v", alice.State, err)
	}
	env.Printf("1. alice registered: transaction %s %s", alice.TxnID, alice.State)

	// 2. Failure: dave signs up with bob's address, which the database refuses.
	dave, err := register(ctx, service, db, topic, "dave", "bob@example.com", nil)
	if !errors.Is(err, semantics.ErrRollback) || dave.State != semantics.TxnStateRollback {
		return fmt.Errorf("dave: want ROLLBACK, got %q, %v", dave.State, err)
	}
	env.Printf("2. dave refused (%v): transaction %s %s", err, dave.TxnID, dave.State)

	// 3. Crash: another instance of the service, on its own connection,
	// stores carol and dies before its commit reaches the broker.
	crashConn, err := env.Connect("crashing-instance")
	if err != nil {
		return err
	}
	doomed, err := semantics.NewTransactionProducer(crashConn, producerGroup, nil)
	if err != nil {
		return err
	}
	crashedAt := time.Now()
	carol, err := register(ctx, doomed, db, topic, "carol", "carol@example.com", crashConn)
	if !errors.Is(err, semantics.ErrTxnEnd) || carol.State != "" {
		return fmt.Errorf("carol: want a failed commit, got %q, %v", carol.State, err)
	}
	env.Printf("3. carol stored, then the instance crashed before committing: %v", err)

	if err := exampleutil.WaitFor(ctx, 30*time.Second, "carol's welcome email", func() bool { return emails.count("carol") > 0 }); err != nil {
		return err
	}
	env.Printf("   carol's email arrived %.1f s after the crash, through check-back", time.Since(crashedAt).Seconds())

	// Every outcome as the broker recorded it, and what the email service saw.
	want := []struct {
		res         semantics.TxnResult
		state, by   string
		emailsTo    string
		wantedEmail int
	}{
		{alice, semantics.TxnStateCommit, semantics.TxnByProducer, "alice", 1},
		{dave, semantics.TxnStateRollback, semantics.TxnByProducer, "dave", 0},
		{carol, semantics.TxnStateCommit, semantics.TxnByCheck, "carol", 1},
	}
	env.Printf("outcomes:")
	for _, w := range want {
		info, err := txnInfo(ctx, env.NC, topic, w.res.TxnID)
		if err != nil {
			return err
		}
		got := emails.count(w.emailsTo)
		env.Printf("   %-5s  transaction %-8s ended by %-8s  emails received: %d", w.emailsTo, info.State, info.EndedBy, got)
		if info.State != w.state || info.EndedBy != w.by || got != w.wantedEmail {
			return fmt.Errorf("%s: want %s by %s and %d email(s), got %s by %s and %d",
				w.emailsTo, w.state, w.by, w.wantedEmail, info.State, info.EndedBy, got)
		}
	}
	if n := emails.total(); n != 2 {
		return fmt.Errorf("the email service received %d emails, want 2", n)
	}
	return nil
}

// register is the registration handler: it stores the user inside the
// transaction that sends the welcome email. With crash set, the process
// dies (its connection closes) right after the database commit.
func register(ctx context.Context, p *semantics.TransactionProducer, db *userDB, topic, user, email string, crash *nats.Conn) (semantics.TxnResult, error) {
	msg := &semantics.Message{Topic: topic, Key: user, Tag: "welcome", Data: []byte(email),
		// Ask us 1 s after the prepare if we never end the transaction.
		Headers: nats.Header{semantics.HeaderCheckImmunity: []string{"1"}}}
	return p.SendInTransaction(ctx, []*semantics.Message{msg}, func(ctx context.Context) error {
		if err := db.insert(user, email, semantics.TxnIDFrom(ctx)); err != nil {
			return fmt.Errorf("%w: %v", semantics.ErrRollback, err)
		}
		if crash != nil {
			crash.Close()
		}
		return nil
	})
}

// txnInfo asks $MQ.API.TXN.INFO.<topic>.<txid> how a transaction ended.
func txnInfo(ctx context.Context, nc *nats.Conn, topic, txid string) (info struct {
	State   string `json:"state"`
	EndedBy string `json:"ended_by"`
}, err error) {
	err = exampleutil.Request(ctx, nc, semantics.TxnAPIPrefix+"INFO."+topic+"."+txid, nil, &info)
	return info, err
}

// userDB is the service's database: users with a unique email address,
// each row storing the transaction id that created it.
type userDB struct {
	mu      sync.Mutex
	byEmail map[string]string // email -> user
	byTxn   map[string]string // txid -> user
}

func newUserDB() *userDB { return &userDB{byEmail: map[string]string{}, byTxn: map[string]string{}} }

func (db *userDB) insert(user, email, txid string) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if owner, ok := db.byEmail[email]; ok {
		return fmt.Errorf("email %s already belongs to %s", email, owner)
	}
	db.byEmail[email] = user
	if txid != "" {
		db.byTxn[txid] = user
	}
	return nil
}

// txnState is the Checker's lookup: a transaction whose row exists
// committed; one without a row (checked after the immunity, when the
// insert has long finished or failed) did not.
func (db *userDB) txnState(txid string) semantics.LocalTxState {
	db.mu.Lock()
	defer db.mu.Unlock()
	if _, ok := db.byTxn[txid]; ok {
		return semantics.LocalCommit
	}
	return semantics.LocalRollback
}

// outbox counts the welcome emails the email service sent, per user.
type outbox struct {
	mu   sync.Mutex
	sent map[string]int
}

func newOutbox() *outbox { return &outbox{sent: map[string]int{}} }

func (o *outbox) add(user string) { o.mu.Lock(); o.sent[user]++; o.mu.Unlock() }

func (o *outbox) count(user string) int { o.mu.Lock(); defer o.mu.Unlock(); return o.sent[user] }

func (o *outbox) total() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, c := range o.sent {
		n += c
	}
	return n
}
