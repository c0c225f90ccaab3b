package middleware

import (
	"errors"
	"fmt"
)

// ErrorClass classifies a handler failure. It is written into poisoned
// messages as MetaPoisonClass.
type ErrorClass string

// The error classes.
const (
	// ClassPermanent: retrying cannot help (decode/validation failure, an
	// error wrapped with Permanent or classified by WithPermanentIf).
	ClassPermanent ErrorClass = "permanent"
	// ClassTransient: any other error; retried.
	ClassTransient ErrorClass = "transient"
	// ClassPanic: the handler panicked (see PanicError); retried like a
	// transient error.
	ClassPanic ErrorClass = "panic"
)

// Classify returns the class of a handler error: ClassPermanent if it is marked
// permanent, else ClassPanic if it holds a *PanicError, else ClassTransient.
func Classify(err error) ErrorClass {
	if IsPermanent(err) {
		return ClassPermanent
	}
	var pe *PanicError
	if errors.As(err, &pe) {
		return ClassPanic
	}
	return ClassTransient
}

// PanicError is returned by the Recoverer middleware when the handler panicked.
type PanicError struct {
	// Value is the value passed to panic.
	Value any
	// Stack is the stack of the panicking goroutine.
	Stack []byte
}

// Error returns "handler panic: <value>" (without the stack, which is in Stack).
func (e *PanicError) Error() string { return fmt.Sprintf("handler panic: %v", e.Value) }

// Unwrap returns the panic value if it is an error (panic(err)), else nil.
func (e *PanicError) Unwrap() error {
	if err, ok := e.Value.(error); ok {
		return err
	}
	return nil
}

// ErrNoDedupKey is returned (marked permanent) when the dedup key function
// returns an empty key.
var ErrNoDedupKey = errors.New("middleware: empty dedup key")

// ErrPoisonPublish is wrapped by the error the poison middleware returns when
// it could not publish a failed message to the poison topic; the original
// message is then nacked (and redelivered by the transport).
var ErrPoisonPublish = errors.New("middleware: cannot publish to poison topic")

// ErrRequeue is wrapped by the error the retry middleware returns when it
// could not requeue a message; the original message is then nacked.
var ErrRequeue = errors.New("middleware: cannot requeue message")

// ErrNotPoisoned is wrapped by ParsePoisoned's error for a message that lacks
// the poison metadata.
var ErrNotPoisoned = errors.New("middleware: not a poisoned message")
