package rotor

import (
	"errors"
	"fmt"
	"time"
)

// Sentinel errors shared by every implementation.
var (
	// ErrNotFound: the object asked for does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the write would break a uniqueness rule (e.g. a second rotation in flight for
	// one binding) or lost an optimistic concurrency check.
	ErrConflict = errors.New("conflict")
	// ErrLeaseLost: the caller's claim on a rotation or lease was taken over (its fencing token is
	// stale). The caller must stop working on it.
	ErrLeaseLost = errors.New("lease lost")
	// ErrNotOwned: a target refuses to overwrite something rotor does not own.
	ErrNotOwned = errors.New("not owned by rotor")
)

// ErrorClass says how a caller should react to an error.
type ErrorClass int

const (
	// ClassPermanent: retrying the same request will fail the same way.
	ClassPermanent ErrorClass = iota
	// ClassTransient: a retry may succeed (timeouts, 5xx, dropped connections).
	ClassTransient
	// ClassThrottled: the service asked the caller to slow down; see RetryAfter.
	ClassThrottled
	// ClassNotFound: the object does not exist (any more).
	ClassNotFound
)

func (c ErrorClass) String() string {
	switch c {
	case ClassTransient:
		return "transient"
	case ClassThrottled:
		return "throttled"
	case ClassNotFound:
		return "not_found"
	default:
		return "permanent"
	}
}

// ClassifiedError carries an error's class, and for throttling the wait the service asked for.
type ClassifiedError struct {
	Class      ErrorClass
	RetryAfter time.Duration
	Err        error
}

func (e *ClassifiedError) Error() string { return e.Err.Error() }
func (e *ClassifiedError) Unwrap() error { return e.Err }

// Transient marks err as worth retrying.
func Transient(err error) error { return classify(ClassTransient, 0, err) }

// Permanent marks err as not worth retrying.
func Permanent(err error) error { return classify(ClassPermanent, 0, err) }

// Throttled marks err as a request to slow down for retryAfter (zero when the service gave none).
func Throttled(err error, retryAfter time.Duration) error {
	return classify(ClassThrottled, retryAfter, err)
}

func classify(c ErrorClass, after time.Duration, err error) error {
	if err == nil {
		return nil
	}
	return &ClassifiedError{Class: c, RetryAfter: after, Err: err}
}

// ClassOf returns the class of err: the outermost ClassifiedError's class, ClassNotFound for
// ErrNotFound, and ClassPermanent for anything unclassified ("when in doubt, do not retry").
func ClassOf(err error) ErrorClass {
	var ce *ClassifiedError
	if errors.As(err, &ce) {
		return ce.Class
	}
	if errors.Is(err, ErrNotFound) {
		return ClassNotFound
	}
	return ClassPermanent
}

// RetryAfterOf returns the wait a throttled error asked for, or zero.
func RetryAfterOf(err error) time.Duration {
	var ce *ClassifiedError
	if errors.As(err, &ce) && ce.Class == ClassThrottled {
		return ce.RetryAfter
	}
	return 0
}

// Retryable reports whether err is transient or throttled.
func Retryable(err error) bool {
	c := ClassOf(err)
	return c == ClassTransient || c == ClassThrottled
}

// FieldError is a configuration or input error tied to the field it concerns.
type FieldError struct {
	Path string // e.g. "tenants[0].auth.client_secret"
	Line int    // 1-based line in the source file; zero when unknown
	Msg  string
}

func (e FieldError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s: %s", e.Line, e.Path, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.Path, e.Msg)
}
