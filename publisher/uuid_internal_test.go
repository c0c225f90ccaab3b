package publisher

import (
	"testing"

	"github.com/google/uuid"
)

func TestAppendUUIDMatchesString(t *testing.T) {
	ids := []uuid.UUID{uuid.Nil, uuid.Max}
	for range 100 {
		id, err := uuid.NewV7()
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	for _, id := range ids {
		if got, want := string(appendUUID([]byte("x"), id)), "x"+id.String(); got != want {
			t.Fatalf("appendUUID = %q, want %q", got, want)
		}
	}
}
