package events

import (
	"encoding/json"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/quagmt/udecimal"
)

// refLevels is the per-level check as it was before keepRules, on
// udecimal's own comparisons: the reference for FuzzOrderBookLevelRules.
func refLevels(b *OrderBook, c *checker, side string, lv []PriceLevel, order int) {
	for i := range lv {
		if c.err != nil {
			return
		}
		l := &lv[i]
		if !l.Price.u().IsPos() {
			c.fail(side+"["+strconv.Itoa(i)+"].price", l.Price.String(), "must be positive")
			return
		}
		switch {
		case l.Amount.u().IsNeg():
			c.fail(side+"["+strconv.Itoa(i)+"].amount", l.Amount.String(), "must not be negative")
			return
		case l.Amount.u().IsZero() && b.Kind != BookDelta:
			c.fail(side+"["+strconv.Itoa(i)+"].amount", "0", "must be positive in a snapshot (0 removes a level only in a delta)")
			return
		}
		if i > 0 && l.Price.u().Cmp(lv[i-1].Price.u()) != order {
			want := "strictly ascending"
			if order < 0 {
				want = "strictly descending"
			}
			c.fail(side+"["+strconv.Itoa(i)+"].price", l.Price.String(), side+" must be in "+want+" price order")
			return
		}
	}
}

// FuzzOrderBookLevelRules: the level checks of OrderBook.Validate (with
// keepRules' integer fast path) report exactly what the one-by-one
// checks on udecimal's comparisons report. Each level is 4 bytes: flags
// and value of the price, then of the amount; small values with few
// places make equal and out-of-order prices common, a flag scales a value
// near the 64-bit limit, another gives it a 128-bit coefficient.
func FuzzOrderBookLevelRules(f *testing.F) {
	f.Add(uint8(1), []byte{0x01, 20, 0x00, 1, 0x01, 30, 0x00, 2, 0x02, 199, 0x00, 3, 0x00, 31, 0x01, 5})
	f.Add(uint8(2), []byte{0x21, 20, 0x00, 0, 0x23, 20, 0x40, 1, 0x01, 19, 0x80, 3})
	f.Add(uint8(1), []byte{0x41, 2, 0x00, 1, 0x01, 2, 0x00, 1, 0x81, 1, 0x00, 1})
	dec := func(flags, v byte) Decimal {
		hi, lo := uint64(0), uint64(v)
		if flags&0x20 != 0 {
			lo *= 100000000000000000 // up to 2.55e19: beyond 64 bits once scaled
		}
		if flags&0x40 != 0 {
			hi = 1
		}
		d, err := udecimal.NewFromHiLo(flags&0x80 != 0, hi, lo, flags%4*6) // 0, 6, 12 or 18 places
		if err != nil {
			panic(err)
		}
		return decOf(d)
	}
	f.Fuzz(func(t *testing.T, kind uint8, raw []byte) {
		ob := OrderBook{Kind: BookKind(kind % 3)}
		for i := 0; i+4 <= len(raw); i += 4 {
			l := PriceLevel{Price: dec(raw[i], raw[i+1]), Amount: dec(raw[i+2], raw[i+3])}
			if raw[i]&0x10 == 0 {
				ob.Bids = append(ob.Bids, l)
			} else {
				ob.Asks = append(ob.Asks, l)
			}
		}
		for _, side := range []struct {
			name  string
			lv    []PriceLevel
			order int
		}{{"bids", ob.Bids, -1}, {"asks", ob.Asks, +1}} {
			got, want := checker{typ: TypeOrderBook}, checker{typ: TypeOrderBook}
			ob.levels(&got, side.name, side.lv, side.order)
			refLevels(&ob, &want, side.name, side.lv, side.order)
			if !reflect.DeepEqual(got.err, want.err) {
				t.Fatalf("%s %v: got %v, want %v", side.name, side.lv, got.err, want.err)
			}
		}
		// Marshal checks the levels while it writes them
		// (validateAppend): its error is Validate's, and a valid book
		// encodes as encoding/json encodes it.
		ob.Exchange, ob.Symbol, ob.Time = "x", "S", time.Unix(1773500966, 0)
		verr := ob.Validate()
		for _, enc := range []func() ([]byte, error){
			func() ([]byte, error) { return Marshal(ob) },
			func() ([]byte, error) { return AppendMarshal([]byte(nil), ob) },
		} {
			b, err := enc()
			if !reflect.DeepEqual(err, verr) {
				t.Fatalf("%+v: Marshal error %v, Validate %v", ob, err, verr)
			}
			if err == nil {
				type plain OrderBook
				p := plain(ob)
				p.Time = p.Time.UTC()
				if p.Bids == nil {
					p.Bids = []PriceLevel{}
				}
				if p.Asks == nil {
					p.Asks = []PriceLevel{}
				}
				if want, _ := json.Marshal(p); string(b) != string(want) {
					t.Fatalf("Marshal = %s, encoding/json %s", b, want)
				}
			}
		}
	})
}
