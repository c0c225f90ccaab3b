package events

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"math/bits"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/quagmt/udecimal"
)

// The hand-written codec (fastjson.go) must be invisible: the same bytes
// as encoding/json, and the same decoded values.

func fastSamples() []Event {
	t0 := time.Date(2026, 3, 14, 16, 9, 26, 535897932, time.FixedZone("CET", 3600))
	d := MustDecimal
	return []Event{
		Trade{Exchange: "binance", Symbol: "BTCUSDT", TradeID: "T-1", Price: d("64123.45"), Amount: d("0.000000000000000001"),
			Side: SideBuy, TakerOrMaker: Taker, Time: t0},
		Trade{Exchange: "x", Symbol: "S", Price: d("1"), Amount: d("123456789.123456789012345678"), Side: SideSell, Time: t0.Truncate(time.Second)},
		Trade{Exchange: "x", Symbol: "S", TradeID: "a<b>&\"\\é\u2028", Price: d("1"), Amount: d("2"), Side: SideSell, Time: t0},
		Trade{Exchange: "x", Symbol: "S", Price: d("1"), Amount: d("2"), Side: Side(9), Time: t0}, // invalid enum
		Trade{Exchange: "x", Symbol: "S", Price: d("1"), Amount: d("2"), Side: SideBuy, Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		Ticker{Exchange: "x", Symbol: "S", Last: d("1.5"), Time: t0},
		Ticker{Exchange: "kraken", Symbol: "ETHUSD", Bid: d("1"), BidSize: d("2"), Ask: d("3"), AskSize: d("4"), Last: d("5"),
			High: d("6"), Low: d("0.7"), Volume: d("8"), QuoteVolume: d("9"), Time: t0},
		OrderBook{Exchange: "x", Symbol: "S", Kind: BookDelta, Sequence: 7, Bids: []PriceLevel{{d("2"), d("0")}}, Time: t0},
		OrderBook{Exchange: "x", Symbol: "S", Kind: BookSnapshot, Sequence: 1<<64 - 1,
			Bids: []PriceLevel{{d("2"), d("1")}, {d("1.5"), d("3")}}, Asks: []PriceLevel{{d("2.5"), d("0.1")}}, Time: t0},
		OrderBook{Exchange: "x", Symbol: "S", Kind: BookSnapshot, Time: t0},
	}
}

// slowJSON is what MarshalJSON wrote before the fast path.
func slowJSON(t *testing.T, e Event) ([]byte, error) {
	t.Helper()
	switch v := e.(type) {
	case Trade:
		type plain Trade
		p := plain(v)
		p.Time = p.Time.UTC()
		return json.Marshal(p)
	case Ticker:
		type plain Ticker
		p := plain(v)
		p.Time = p.Time.UTC()
		return json.Marshal(p)
	case OrderBook:
		type plain OrderBook
		p := plain(v)
		p.Time = p.Time.UTC()
		if p.Bids == nil {
			p.Bids = []PriceLevel{}
		}
		if p.Asks == nil {
			p.Asks = []PriceLevel{}
		}
		return json.Marshal(p)
	}
	t.Fatalf("no slow path for %T", e)
	return nil, nil
}

func TestFastEncoderMatchesEncodingJSON(t *testing.T) {
	for i, e := range fastSamples() {
		want, werr := slowJSON(t, e)
		got, gerr := json.Marshal(e)
		if (werr == nil) != (gerr == nil) || string(got) != string(want) {
			t.Errorf("sample %d (%T):\n got %s (%v)\nwant %s (%v)", i, e, got, gerr, want, werr)
		}
	}
}

// fastDecoder is implemented by pointers to the types with a fast path.
type fastDecoder interface {
	decodeFast(data []byte) bool
}

func checkFastDecode[T Event](t *testing.T, data []byte) {
	t.Helper()
	var fast T
	fd, ok := any(&fast).(fastDecoder)
	if !ok {
		t.Fatalf("%T has no fast decoder", fast)
	}
	if !fd.decodeFast(data) {
		return // encoding/json decides
	}
	var slow T
	if err := json.Unmarshal(data, &slow); err != nil {
		t.Fatalf("fast path accepted what encoding/json rejects (%v): %q", err, data)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("fast and encoding/json decode differ for %q:\n%#v\n%#v", data, fast, slow)
	}
}

// checkProof: what the fast decoders report they have verified holds
// (the per-level rules of an order book, exchange and symbol as routing-
// key segments), and validation with or without the proof gives the same
// result.
func checkProof(t *testing.T, data []byte) {
	t.Helper()
	segments := func(pr proof, exchange, symbol string) {
		t.Helper()
		if pr.segments && (ValidateSegment(exchange) != nil || ValidateSegment(symbol) != nil) {
			t.Fatalf("segments reported valid: %q %q in %q", exchange, symbol, data)
		}
	}
	var ob OrderBook
	if ok, pr := ob.decodeFastProof(data); ok {
		if pr.levels {
			c := checker{typ: TypeOrderBook}
			ob.levels(&c, "bids", ob.Bids, -1)
			ob.levels(&c, "asks", ob.Asks, +1)
			if c.err != nil {
				t.Fatalf("levels reported valid, but %v: %q", c.err, data)
			}
		}
		segments(pr, ob.Exchange, ob.Symbol)
		if with, without := ob.check(pr), ob.check(proof{}); !reflect.DeepEqual(with, without) {
			t.Fatalf("check(%+v) = %v, check(proof{}) = %v: %q", pr, with, without, data)
		}
	}
	var tr Trade
	if ok, pr := tr.decodeFastProof(data); ok {
		segments(pr, tr.Exchange, tr.Symbol)
		if with, without := tr.check(pr), tr.check(proof{}); !reflect.DeepEqual(with, without) {
			t.Fatalf("check(%+v) = %v, check(proof{}) = %v: %q", pr, with, without, data)
		}
	}
	var tk Ticker
	if ok, pr := tk.decodeFastProof(data); ok {
		segments(pr, tk.Exchange, tk.Symbol)
		if with, without := tk.check(pr), tk.check(proof{}); !reflect.DeepEqual(with, without) {
			t.Fatalf("check(%+v) = %v, check(proof{}) = %v: %q", pr, with, without, data)
		}
	}
}

// levelsProofCases are order books and whether the fast decoder proves
// their levels valid.
func levelsProofCases() []struct {
	in     []byte
	proven bool
} {
	doc := func(kind, bids, asks string) []byte {
		return []byte(`{"exchange":"x","symbol":"S","kind":"` + kind + `","bids":` + bids + `,"asks":` + asks +
			`,"datetime":"2026-03-14T15:09:26Z"}`)
	}
	return []struct {
		in     []byte
		proven bool
	}{
		{doc("SNAPSHOT", `[["2","1"],["1.5","3"]]`, `[["2.5","0.1"],["3","1"]]`), true},
		{doc("SNAPSHOT", `[]`, `[]`), true},
		{doc("SNAPSHOT", `[["2","1"]]`, `[]`), true},
		{doc("DELTA", `[["2","0"],["1.5","3"]]`, `[["2.5","0"]]`), true},
		{doc("SNAPSHOT", `[["2","0"]]`, `[]`), false},             // zero amount in a snapshot
		{doc("SNAPSHOT", `[]`, `[["2","0"]]`), false},             // on either side
		{doc("SNAPSHOT", `[["1.5","1"],["2","1"]]`, `[]`), false}, // bids ascending
		{doc("SNAPSHOT", `[]`, `[["3","1"],["2.5","1"]]`), false}, // asks descending
		{doc("SNAPSHOT", `[["2","1"],["2.0","1"]]`, `[]`), false}, // equal prices
		{doc("SNAPSHOT", `[]`, `[["2.50","1"],["2.5","1"]]`), false},
		{doc("SNAPSHOT", `[["0","1"]]`, `[]`), false},                    // zero price
		{doc("SNAPSHOT", `[["-1","1"]]`, `[]`), false},                   // negative price (library path)
		{doc("SNAPSHOT", `[["2","-1"]]`, `[]`), false},                   // negative amount
		{doc("SNAPSHOT", `[[ "2","1"]]`, `[]`), false},                   // white space: the general path
		{doc("SNAPSHOT", `[["2","1"],["1","1"] ]`, `[]`), true},          // white space outside the levels
		{doc("SNAPSHOT", `[["1e3","1"]]`, `[]`), false},                  // not a decimal
		{doc("SNAPSHOT", `[["12345678901234567890","1"]]`, `[]`), false}, // 20 digits
		{doc("SNAPSHOT", `[["3","1"]]`, `[["2","1"]]`), true},            // crossed: caught by check
		{doc("NOPE", `[["2","0"]]`, `[]`), false},                        // unknown kind
		// From fastLevels to the general loop and on: the order is kept
		// across the hand-over, and a level read the general way is not
		// proven.
		{doc("SNAPSHOT", `[["3","1"],["2","1"] ,["1","1"]]`, `[["4","1"] ,["5","2"]]`), true},
		{doc("SNAPSHOT", `[["3","1"],["2","1"] ,["2.5","1"]]`, `[]`), false},
		{doc("SNAPSHOT", `[["3","1"],["2","1"] ,["2","1"]]`, `[]`), false},
		{doc("SNAPSHOT", `[["3","1"], ["2","1"]]`, `[]`), false},
		{doc("SNAPSHOT", `[["3","1"],["2.","1"]]`, `[]`), false}, // not a decimal
		{doc("SNAPSHOT", `[["3","1"],["02","1"]]`, `[]`), false}, // a leading zero
		{doc("SNAPSHOT", `[["3","1"],["2","1"],]`, `[]`), false}, // a trailing comma
		{doc("SNAPSHOT", `[["3","1"]["2","1"]]`, `[]`), false},   // no comma
		{doc("SNAPSHOT", `[["3.25","1"],["3.2","1"],["3","0.5"]]`, `[["3.5","1"],["3.55","1"]]`), true},
		{[]byte(`{"exchange":"x","symbol":"S","kind":"DELTA","bids":[["1","1"],["2","0"]],"bids":[["2","1"]],"datetime":"2026-03-14T15:09:26Z"}`), true}, // the last wins
		{[]byte(`{"exchange":"x","symbol":"S","kind":"DELTA","bids":[["2","1"]],"bids":[["1","1"],["2","0"]],"datetime":"2026-03-14T15:09:26Z"}`), false},
	}
}

// TestLevelsProof: which order books the fast decoder proves valid level
// by level, and that Unmarshal reports for every book the error that
// encoding/json and Validate report.
func TestLevelsProof(t *testing.T) {
	for _, tc := range levelsProofCases() {
		var ob OrderBook
		if _, pr := ob.decodeFastProof(tc.in); pr.levels != tc.proven {
			t.Errorf("%s: proven %v, want %v", tc.in, pr.levels, tc.proven)
		}
		checkProof(t, tc.in)
		_, got := Unmarshal[OrderBook](tc.in)
		var ref OrderBook
		want := json.Unmarshal(tc.in, &ref)
		if want == nil {
			want = ref.Validate()
		}
		if (got == nil) != (want == nil) || (want != nil && got.Error() != want.Error() && !errors.Is(got, ErrDecode)) {
			t.Errorf("%s: Unmarshal: %v, want %v", tc.in, got, want)
		}
	}
}

func TestFastDecoderMatchesEncodingJSON(t *testing.T) {
	for _, e := range fastSamples() {
		b, err := json.Marshal(e)
		if err != nil {
			continue
		}
		for _, in := range [][]byte{b, []byte(" \n" + string(b) + "\t"), []byte(`{}`), []byte(`{"exchange":"x","exchange":"y"}`)} {
			checkFastDecode[Trade](t, in)
			checkFastDecode[Ticker](t, in)
			checkFastDecode[OrderBook](t, in)
		}
	}
	// The fast path takes the common shape.
	b, _ := json.Marshal(fastSamples()[0])
	var tr Trade
	if !tr.decodeFast(b) {
		t.Fatalf("fast path rejected %s", b)
	}
}

// FuzzFastDecoders: whatever the fast decoders accept, encoding/json
// accepts too, with the same value.
func FuzzFastDecoders(f *testing.F) {
	for _, e := range fastSamples() {
		if b, err := json.Marshal(e); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"exchange":"x","sequence":01,"bids":[["1","2"],]}`))
	f.Add([]byte(`{"sequence":18446744073709551616,"bids":[],"asks":null}`))
	for _, tc := range levelsProofCases() {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkFastDecode[Trade](t, data)
		checkFastDecode[Ticker](t, data)
		checkFastDecode[OrderBook](t, data)
		checkProof(t, data)
	})
}

// FuzzSmallDecimal: the short-form parser yields exactly udecimal's value.
func FuzzSmallDecimal(f *testing.F) {
	for _, s := range []string{"0", "0.0", "0.5", "1.50", "64123.45", "1234567890123456789", "0.0000000000000000001",
		"9999999999999999999", "12.", ".5", "00.5", "01", "1.2.3", "-1", "+1", "1e3", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// The scanner's one-pass parser agrees with Decimal.UnmarshalJSON.
		raw := []byte(`"` + s + `"`)
		var viaScanner, viaJSON Decimal
		sc := scanner{b: raw}
		sok := sc.decimal(&viaScanner) && sc.end()
		jerr := viaJSON.UnmarshalJSON(raw)
		plain := !strings.ContainsAny(s, "\\\"") && !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r >= 0x7f })
		if (sok && (jerr != nil || !reflect.DeepEqual(viaScanner, viaJSON))) || (plain && sok != (jerr == nil)) {
			t.Fatalf("%q: scanner %v %#v, UnmarshalJSON %v %#v", s, sok, viaScanner, jerr, viaJSON)
		}

		got, ok := parseSmallDecimal(s)
		if !ok {
			return
		}
		want, err := udecimal.Parse(s)
		if err != nil {
			t.Fatalf("fast path accepted %q, udecimal: %v", s, err)
		}
		if !reflect.DeepEqual(got, decOf(want)) {
			t.Fatalf("%q: fast %#v, udecimal %#v", s, got, want)
		}
	})
}

// FuzzAppendDec: the hand-written decimal formatter writes exactly what
// Decimal.MarshalJSON writes.
func FuzzAppendDec(f *testing.F) {
	f.Add(false, uint64(0), uint64(6500012), uint8(2))
	f.Add(true, uint64(0), uint64(1), uint8(19))
	f.Add(false, uint64(0), uint64(10000000000000000000), uint8(19))
	f.Add(false, uint64(0), uint64(1<<64-1), uint8(0))
	f.Add(false, uint64(0), uint64(0), uint8(5))
	f.Add(false, uint64(3), uint64(77), uint8(7))
	f.Fuzz(func(t *testing.T, neg bool, hi, lo uint64, prec uint8) {
		v, err := udecimal.NewFromHiLo(neg, hi, lo, prec)
		if err != nil {
			return
		}
		d := decOf(v)
		want, werr := d.MarshalJSON()
		got, ok := appendDec([]byte("x"), d)
		if ok != (werr == nil) || (ok && string(got) != "x"+string(want)) {
			t.Fatalf("%#v: got %q (%v), want %q (%v)", v, got, ok, want, werr)
		}
	})
}

// FuzzAppendTime: the hand-written time formatter writes exactly what
// time.Time.MarshalJSON writes for the time in UTC, and fails where it
// fails.
func FuzzAppendTime(f *testing.F) {
	f.Add(int64(1773500966), int64(535897932), 3600)
	f.Add(int64(0), int64(0), 0)
	f.Add(int64(-62135596800), int64(1), -3600)     // year 1
	f.Add(int64(253402300799), int64(999999999), 0) // end of 9999
	f.Add(int64(253402300800), int64(0), 0)         // year 10000
	f.Add(int64(-62167219200), int64(100), 0)       // year 0
	f.Add(int64(-62167219201), int64(0), 0)         // year -1
	f.Fuzz(func(t *testing.T, sec, nsec int64, offset int) {
		tm := time.Unix(sec, nsec).In(time.FixedZone("z", offset%(24*3600)))
		want, werr := tm.UTC().MarshalJSON()
		got, ok := appendTime([]byte("x"), tm)
		if ok != (werr == nil) || (ok && string(got) != "x"+string(want)) {
			t.Fatalf("%v: got %q (%v), want %q (%v)", tm, got, ok, want, werr)
		}
	})
}

// FuzzFastEncoders: for events built from arbitrary field values, the
// hand-written encoders write what encoding/json writes (or decline).
func FuzzFastEncoders(f *testing.F) {
	f.Add("binance", "BTCUSDT", "T-1", int64(6500012), uint8(2), int64(15), uint8(3), uint8(1), uint8(1), int64(1773500966), int64(535897932), uint64(9001))
	f.Add("a<b", "é", "", int64(-1), uint8(19), int64(0), uint8(0), uint8(3), uint8(0), int64(-62167219201), int64(0), uint64(0))
	f.Fuzz(func(t *testing.T, ex, sym, id string, p int64, ps uint8, a int64, as uint8, side, tom uint8, sec, nsec int64, seq uint64) {
		price, err := NewDecimalFromScaled(p, ps%20)
		if err != nil {
			return
		}
		amount, err := NewDecimalFromScaled(a, as%20)
		if err != nil {
			return
		}
		tm := time.Unix(sec, nsec).In(time.FixedZone("z", int(seq%7)*3600))
		evs := []Event{
			Trade{Exchange: ex, Symbol: sym, TradeID: id, Price: price, Amount: amount, Side: Side(side), TakerOrMaker: TakerOrMaker(tom), Time: tm},
			Ticker{Exchange: ex, Symbol: sym, Bid: price, Ask: amount, Last: price.Add(amount), Volume: amount, Time: tm},
			OrderBook{Exchange: ex, Symbol: sym, Kind: BookKind(side), Sequence: seq, Time: tm,
				Bids: []PriceLevel{{price, amount}, {amount, price}}, Asks: []PriceLevel{{price.Neg(), amount}}},
			OrderBook{Exchange: ex, Symbol: sym, Kind: BookKind(tom), Time: tm, Asks: []PriceLevel{}},
		}
		for _, e := range evs {
			want, werr := slowJSON(t, e)
			got, gerr := json.Marshal(e)
			if (werr == nil) != (gerr == nil) || string(got) != string(want) {
				t.Fatalf("%#v:\n got %s (%v)\nwant %s (%v)", e, got, gerr, want, werr)
			}
		}
	})
}

// FuzzParseUTCTime: whatever the hand-written time parser accepts,
// time.Time.UnmarshalJSON accepts with the same value.
func FuzzParseUTCTime(f *testing.F) {
	for _, s := range []string{"2026-03-14T15:09:26.535897932Z", "2026-03-14T15:09:26Z", "0000-01-01T00:00:00.1Z",
		"9999-12-31T23:59:59.999999999Z", "2024-02-29T00:00:00Z", "2025-02-29T00:00:00Z", "2026-04-31T00:00:00Z",
		"2026-03-14T24:00:00Z", "2026-03-14T15:09:60Z", "2026-03-14T15:09:26.Z", "2026-03-14T15:09:26,5Z",
		"2026-03-14T15:09:26.1234567891Z", "2026-03-14T15:09:26.53589793Z", "2026-03-14T15:09:26.5358/932Z", "2026-03-14T15:09:26.53589:93Z", "2026-03-14T15:09:26+01:00", "2026-03-14 15:09:26Z", "+026-03-14T15:09:26Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseUTCTime([]byte(s))
		if !ok {
			return
		}
		var want time.Time
		if err := want.UnmarshalJSON([]byte(`"` + s + `"`)); err != nil {
			t.Fatalf("%q: fast parser accepted, UnmarshalJSON: %v", s, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: fast %#v, UnmarshalJSON %#v", s, got, want)
		}
		// EnvelopeFromMetadata reads metadata strings with it in place of
		// time.Parse.
		if gs, oks := parseUTCTime(s); !oks || !reflect.DeepEqual(gs, got) {
			t.Fatalf("%q: string form %#v %v, bytes %#v", s, gs, oks, got)
		}
		if tp, err := time.Parse(time.RFC3339Nano, s); err != nil || !reflect.DeepEqual(tp, got) {
			t.Fatalf("%q: fast %#v, time.Parse %#v (%v)", s, got, tp, err)
		}
	})
}

// TestCivilDate: every day of the years 0..9999 against package time.
func TestCivilDate(t *testing.T) {
	for days := int64(0); days < 3652425; days++ {
		y, m, d := civilDate(days)
		ty, tm, td := time.Unix(year0Unix+days*86400, 0).UTC().Date()
		if y != ty || m != int(tm) || d != td {
			t.Fatalf("civilDate(%d) = %d-%d-%d, time: %d-%d-%d", days, y, m, d, ty, tm, td)
		}
		if back := civilDays(y, m, d); back != days {
			t.Fatalf("civilDays(%d-%d-%d) = %d, want %d", y, m, d, back, days)
		}
	}
	if y, _, _ := civilDate(3652424); y != 9999 {
		t.Fatalf("last day in year %d", y)
	}
}

// TestEnumNamesPlain: the fast decoders read enum names without scanning
// them for escapes (scanner.enum), which needs names of printable ASCII
// without '"' or '\\'.
func TestEnumNamesPlain(t *testing.T) {
	for _, tab := range []*enumTable{&sideTable, &takerOrMakerTable, &bookKindTable} {
		for _, d := range tab.defs {
			for i := 0; i < len(d.name); i++ {
				if !strPlain[d.name[i]] {
					t.Errorf("%s: name %q has byte %q", tab.enum, d.name, d.name[i])
				}
			}
		}
	}
}

// TestMarshalStackBuffers: Marshal encodes into a stack buffer of a size
// per type (and per book size) and copies the encoding out; encodings
// around and beyond each buffer's size (a trade id of up to 256 bytes,
// books of 0 to 40 levels) are still encoding/json's bytes, at their
// exact length.
func TestMarshalStackBuffers(t *testing.T) {
	t0 := time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.UTC)
	var evs []Event
	for _, n := range []int{0, 1, 100, 150, 200, 220, 256} {
		evs = append(evs, Trade{Exchange: "binance", Symbol: "BTCUSDT", TradeID: strings.Repeat("7", n),
			Price: MustDecimal("64123.45"), Amount: MustDecimal("0.01234"), Side: SideBuy, Time: t0})
	}
	evs = append(evs, Ticker{Exchange: strings.Repeat("x", 60), Symbol: strings.Repeat("Y", 60),
		Bid: MustDecimal("12345678901234567.88"), BidSize: MustDecimal("1234567890123456789012345678.9"),
		Ask: MustDecimal("12345678901234567.89"), AskSize: MustDecimal("0.0000000000000000001"),
		Last: MustDecimal("1"), High: MustDecimal("2"), Low: MustDecimal("0.5"),
		Volume: MustDecimal("123456789012345678.9"), QuoteVolume: MustDecimal("99999999999999999999999999999"), Time: t0})
	for levels := 0; levels <= 40; levels++ {
		ob := OrderBook{Exchange: "binance", Symbol: "BTCUSDT", Kind: BookSnapshot, Sequence: 1<<63 + 1, Time: t0}
		bid, ask := MustDecimal("64999.123456789"), MustDecimal("65000.123456789")
		step, amt := MustDecimal("0.000000001"), MustDecimal("123456.12345678")
		for i := range levels {
			if i%2 == 0 {
				ob.Bids = append(ob.Bids, PriceLevel{Price: bid, Amount: amt})
				bid = bid.Sub(step)
			} else {
				ob.Asks = append(ob.Asks, PriceLevel{Price: ask, Amount: amt})
				ask = ask.Add(step)
			}
		}
		evs = append(evs, ob)
	}
	for _, e := range evs {
		want, err := slowJSON(t, e)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Marshal(e)
		if err != nil {
			t.Fatalf("%#v: %v", e, err)
		}
		// The copy out of a stack buffer is of the exact size (rounded up
		// to the allocator's size class); books of over 27 levels are
		// encoded into a generous heap buffer instead.
		exact := true
		if ob, ok := e.(OrderBook); ok && len(ob.Bids)+len(ob.Asks) > 27 {
			exact = false
		}
		if string(got) != string(want) || (exact && cap(got) > len(got)+len(got)/8+16) {
			t.Fatalf("Marshal = %s (cap %d)\nwant %s (%d bytes)", got, cap(got), want, len(want))
		}
	}
}

// TestDigits8: digits8 reads 8 ASCII digits (first in the low byte) and
// rejects a word with any other byte, including the neighbours of '0'
// and '9' and bytes that differ from a digit in the high bit only.
func TestDigits8(t *testing.T) {
	word := func(s string) uint64 {
		var w uint64
		for i := 7; i >= 0; i-- {
			w = w<<8 | uint64(s[i])
		}
		return w
	}
	for _, s := range []string{"00000000", "12345678", "99999999", "53589793", "00000001", "10000000"} {
		want, _ := strconv.Atoi(s)
		if v, ok := digits8(word(s)); !ok || int(v) != want {
			t.Errorf("digits8(%q) = %d, %v", s, v, ok)
		}
	}
	for pos := range 8 {
		for c := 0; c < 256; c++ {
			b := []byte("12345678")
			b[pos] = byte(c)
			if _, ok := digits8(word(string(b))); ok != (c >= '0' && c <= '9') {
				t.Fatalf("digits8(%q): ok %v", b, ok)
			}
		}
	}
}

// TestIDOnePass: checker.id's one-pass check of an id of printable ASCII
// but ' ' agrees with the full rules (text, then no white space) for
// every byte value at each end and in the middle, at the length limit
// and beyond it, and for an empty id.
func TestIDOnePass(t *testing.T) {
	full := func(v string, required bool) *ValidationError {
		c := checker{typ: "t"}
		c.text("f", v, required)
		if c.err == nil {
			for _, r := range v {
				if unicode.IsSpace(r) {
					c.fail("f", v, "contains white space")
					break
				}
			}
		}
		return c.err
	}
	var ids []string
	for b := 0; b < 256; b++ {
		s := string([]byte{byte(b)})
		ids = append(ids, s, "ab"+s+"cd", s+"xyz", "xyz"+s)
	}
	long := strings.Repeat("x", maxTextLen)
	ids = append(ids, "", long, long+"x", long[1:]+"é")
	for _, v := range ids {
		for _, required := range []bool{true, false} {
			c := checker{typ: "t"}
			c.id("f", v, required)
			if want := full(v, required); !reflect.DeepEqual(c.err, want) {
				t.Fatalf("id(%q, %v) = %v, want %v", v, required, c.err, want)
			}
		}
	}
}

// TestSegmentOnePass: checker.segment's inline check of a plain ASCII
// segment agrees with ValidateSegment for every byte value at each end
// and in the middle, and for an empty segment.
func TestSegmentOnePass(t *testing.T) {
	ids := []string{""}
	for b := 0; b < 256; b++ {
		s := string([]byte{byte(b)})
		ids = append(ids, s, "ab"+s+"cd", s+"xyz", "xyz"+s, "é"+s)
	}
	for _, v := range ids {
		c := checker{typ: "t"}
		c.segment("f", v)
		if (c.err == nil) != (v != "" && ValidateSegment(v) == nil) {
			t.Fatalf("segment(%q) = %v, ValidateSegment %v", v, c.err, ValidateSegment(v))
		}
	}
}

// TestNotPlain8: the first byte notPlain8 flags in a word is the first
// byte strPlain rejects, for every byte value at every position after
// plain bytes, with any bytes after it.
func TestNotPlain8(t *testing.T) {
	for pos := range 8 {
		for c := range 256 {
			for _, after := range []byte{'a', 0, '"', 0xff, 0x7f} {
				var b [8]byte
				for k := range b {
					switch {
					case k < pos:
						b[k] = 'x'
					case k == pos:
						b[k] = byte(c)
					default:
						b[k] = after
					}
				}
				checkNotPlain8(t, b)
			}
		}
	}
	// And words of bytes drawn from the edges of the classes.
	edges := []byte{0, 1, 0x1f, ' ', '!', '"', '#', '[', '\\', ']', 'a', 0x7e, 0x7f, 0x80, 0xfe, 0xff}
	x := uint64(1)
	for range 200000 {
		var b [8]byte
		for k := range b {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			b[k] = edges[x%uint64(len(edges))]
		}
		checkNotPlain8(t, b)
	}
}

func checkNotPlain8(t *testing.T, b [8]byte) {
	t.Helper()
	m := notPlain8(binary.LittleEndian.Uint64(b[:]))
	first := 8
	for k := range b {
		if !strPlain[b[k]] {
			first = k
			break
		}
	}
	got := 8
	if m != 0 {
		got = bits.TrailingZeros64(m) / 8
	}
	if got != first {
		t.Fatalf("%q: notPlain8 says byte %d, strPlain %d", b[:], got, first)
	}
}
