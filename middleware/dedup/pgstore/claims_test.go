package pgstore_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tradebus/tradebus/middleware"
	"github.com/tradebus/tradebus/middleware/dedup/pgstore"
)

// TestClaimStore: a claim round-trips body (also a big one) and metadata
// exactly, is replaced by a second Put, and is gone after Delete.
func TestClaimStore(t *testing.T) {
	pool, prefix := setup(t)
	ctx := context.Background()
	cs, err := pgstore.NewClaimStore(pool, pgstore.WithTable(prefix+"_claims"))
	if err != nil {
		t.Fatal(err)
	}
	if err := cs.CreateTable(ctx); err != nil {
		t.Fatal(err)
	}
	body := bytes.Repeat([]byte{0, 1, 2, 0xff}, 300_000) // 1.2 MB, not UTF-8
	md := map[string]string{"id": "e1", "big": strings.Repeat("h", 60_000), "quote": `"ü"`}
	if err := cs.PutClaim(ctx, "e1", body, md); err != nil {
		t.Fatal(err)
	}
	gotBody, gotMD, err := cs.GetClaim(ctx, "e1")
	if err != nil || !bytes.Equal(gotBody, body) || len(gotMD) != 3 || gotMD["big"] != md["big"] || gotMD["quote"] != md["quote"] {
		t.Fatalf("GetClaim: %d bytes, %d metadata, %v", len(gotBody), len(gotMD), err)
	}
	if err := cs.PutClaim(ctx, "e1", []byte("x"), nil); err != nil {
		t.Fatal(err)
	}
	if b, _, err := cs.GetClaim(ctx, "e1"); err != nil || string(b) != "x" {
		t.Fatalf("after a second Put: %q, %v", b, err)
	}
	if err := cs.DeleteClaim(ctx, "e1"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := cs.GetClaim(ctx, "e1"); !errors.Is(err, middleware.ErrClaimNotFound) {
		t.Fatalf("GetClaim after Delete: %v, want ErrClaimNotFound", err)
	}
	if _, err := pgstore.NewClaimStore(nil); !errors.Is(err, middleware.ErrInvalidOption) {
		t.Errorf("NewClaimStore(nil): %v", err)
	}
}
