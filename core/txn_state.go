package core

import "time"

// Transaction states, as the broker reports them (Mq-Txn-State, TXN.INFO).
const (
	TxnStateCommit       = "COMMIT"
	TxnStateRollback     = "ROLLBACK"
	TxnStateUnknown      = "UNKNOWN"
	TxnStateParked       = "PARKED"
	TxnStatePending      = "PENDING"
	TxnStateCheckPending = "CHECKING"
)

// TxnView is what the broker knows of one transaction after reading its
// subjects: the input of the decisions below.
type TxnView struct {
	Halves int    // half messages still waiting
	End    string // "", TxnStateCommit or TxnStateRollback
	Parked bool
	Checks int // checks sent so far
	// PreparedAt and Immunity time the first check.
	PreparedAt time.Time
	Immunity   time.Duration
}

// State names the transaction's state for listings.
func (v TxnView) State() string {
	switch {
	case v.End != "":
		return v.End
	case v.Halves == 0:
		return ""
	case v.Parked:
		return TxnStateParked
	}
	return TxnStatePending
}

// EndDecision is what to do with a commit or rollback request.
type EndDecision int

const (
	// EndWrite: record the end now.
	EndWrite EndDecision = iota
	// EndAlready: the same end is recorded; finish any leftover work and
	// answer success.
	EndAlready
	// EndConflict: the other end is recorded; answer 409 naming it.
	EndConflict
	// EndNotFound: no such transaction; answer 404.
	EndNotFound
)

// DecideEnd decides a request to end v with want (first writer wins).
func DecideEnd(v TxnView, want string) EndDecision {
	switch {
	case v.End == want:
		return EndAlready
	case v.End != "":
		return EndConflict
	case v.Halves == 0:
		return EndNotFound
	}
	return EndWrite
}

// CheckAction is what the check driver does when a transaction's timer
// fires.
type CheckAction int

const (
	// CheckSkip: nothing to do (no such transaction, or it is parked).
	CheckSkip CheckAction = iota
	// CheckFinish: the transaction ended but left work behind (a crash
	// between recording the end and publishing); finish it, ask nobody.
	CheckFinish
	// CheckWait: the immunity has not passed yet; look again after Wait.
	CheckWait
	// CheckSend: send check number Attempt to the producer group.
	CheckSend
	// CheckPark: max_checks checks went unanswered; park it.
	CheckPark
)

// CheckPlan is the decision of PlanCheck.
type CheckPlan struct {
	Action  CheckAction
	Wait    time.Duration
	Attempt int
}

// PlanCheck decides what a fired timer leads to at time now. An ended
// transaction is never checked.
func PlanCheck(v TxnView, now time.Time, cfg TxnConfig) CheckPlan {
	switch {
	case v.End != "" && v.Halves > 0:
		return CheckPlan{Action: CheckFinish}
	case v.End != "" || v.Halves == 0 || v.Parked:
		return CheckPlan{Action: CheckSkip}
	}
	if due := v.PreparedAt.Add(v.Immunity); now.Before(due) {
		return CheckPlan{Action: CheckWait, Wait: due.Sub(now)}
	}
	if v.Checks >= cfg.MaxChecks {
		return CheckPlan{Action: CheckPark}
	}
	return CheckPlan{Action: CheckSend, Attempt: v.Checks + 1}
}

// CheckOutcome is what a check's answer leads to.
type CheckOutcome int

const (
	// OutcomeCommit and OutcomeRollback end the transaction.
	OutcomeCommit CheckOutcome = iota
	OutcomeRollback
	// OutcomeRetry: ask again after check_interval.
	OutcomeRetry
	// OutcomePark: that was the last check; park the transaction.
	OutcomePark
)

// AfterCheck decides on answer (COMMIT, ROLLBACK, or anything else for
// UNKNOWN, silence, no responders or a malformed answer) to check number
// attempt.
func AfterCheck(answer string, attempt int, cfg TxnConfig) CheckOutcome {
	switch answer {
	case TxnStateCommit:
		return OutcomeCommit
	case TxnStateRollback:
		return OutcomeRollback
	}
	if attempt >= cfg.MaxChecks {
		return OutcomePark
	}
	return OutcomeRetry
}

// NextCheckIn is the period of a half message's timer after attempt
// checks: the immunity before the first, check_interval after that.
func NextCheckIn(attempt int, immunity time.Duration, cfg TxnConfig) time.Duration {
	if attempt == 0 {
		return immunity
	}
	return cfg.CheckInterval
}
