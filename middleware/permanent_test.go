package middleware

import (
	"errors"
	"fmt"
	"io"
	"testing"
)

type codeErr struct{ code int }

func (e *codeErr) Error() string { return fmt.Sprintf("code %d", e.code) }

func TestPermanent(t *testing.T) {
	if Permanent(nil) != nil {
		t.Fatal("Permanent(nil) != nil")
	}
	if IsPermanent(nil) || IsPermanent(io.EOF) {
		t.Fatal("IsPermanent of nil / plain error")
	}
	orig := fmt.Errorf("decode: %w", &codeErr{42})
	p := Permanent(orig)
	if !errors.Is(p, ErrPermanent) || !IsPermanent(p) {
		t.Fatal("not permanent")
	}
	if !errors.Is(p, orig) {
		t.Fatal("lost original")
	}
	var ce *codeErr
	if !errors.As(p, &ce) || ce.code != 42 {
		t.Fatal("errors.As lost the typed error")
	}
	if p.Error() != orig.Error() {
		t.Fatalf("text changed: %q", p.Error())
	}
	if Permanent(p) != p {
		t.Fatal("double wrap")
	}
	wrapped := fmt.Errorf("handler: %w", p)
	if !IsPermanent(wrapped) || Classify(wrapped) != ClassPermanent {
		t.Fatal("wrapping a permanent error loses it")
	}
	if Classify(io.EOF) != ClassTransient {
		t.Fatal("plain error not transient")
	}
	if Classify(fmt.Errorf("x: %w", &PanicError{Value: "boom"})) != ClassPanic {
		t.Fatal("panic class")
	}
	if Classify(Permanent(&PanicError{Value: "boom"})) != ClassPermanent {
		t.Fatal("permanent wins over panic")
	}
}

func TestPanicErrorUnwrap(t *testing.T) {
	pe := &PanicError{Value: io.EOF}
	if !errors.Is(pe, io.EOF) {
		t.Fatal("panic(err) does not unwrap to err")
	}
	if (&PanicError{Value: 3}).Unwrap() != nil {
		t.Fatal("non-error value unwraps")
	}
}
