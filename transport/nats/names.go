package nats

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// subject is the NATS subject of routing key key.
func subject(prefix, key string) string { return prefix + "." + key }

// streamName is the JetStream stream that keeps events of kind: prefix and
// kind joined by '_' ("tradebus_trade"). Characters a stream name cannot
// hold become '_'; a kind that needed that gets a hash suffix, so that two
// kinds never share a stream.
func streamName(prefix, kind string) string {
	p, _ := sanitizeName(prefix)
	k, changed := sanitizeName(kind)
	if changed {
		k += "_" + shortHash(kind)
	}
	return p + "_" + k
}

// consumerName is the durable consumer of (group, pattern) in its kind's
// stream: readable, plus a hash of both, so that patterns that read alike
// ("a.b" and "a_b") stay apart.
func consumerName(group, pattern string) string {
	g, _ := sanitizeName(group)
	p, _ := sanitizeName(strings.NewReplacer("*", "STAR", "#", "HASH").Replace(pattern))
	name := g + "__" + p
	if len(name) > 120 {
		name = name[:120]
	}
	return name + "_" + shortHash(group+"\x00"+pattern)
}

// sanitizeName replaces what a stream or consumer name cannot contain
// (white space, '.', '*', '>', path separators, non-printable) with '_'.
func sanitizeName(s string) (string, bool) {
	changed := false
	out := strings.Map(func(r rune) rune {
		switch {
		case r == '.' || r == '*' || r == '>' || r == '/' || r == '\\' || r <= ' ' || r == 0x7f:
			changed = true
			return '_'
		}
		return r
	}, s)
	return out, changed
}

func shortHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:4])
}

// filterFor returns the consumer filter subject for pattern ("" = the whole
// stream of the pattern's kind) and whether the filter is exact; when it
// is not, deliveries are matched against the pattern in-process.
//
// '*' maps to '*'. '#' (zero or more segments) has no exact NATS
// equivalent: '>' needs at least one token, and servers before 2.10 take a
// single filter subject. "kind.#" reads the whole kind stream (exact). A
// pattern whose '#' is followed by a concrete or '*' segment ("kind.#.X")
// only matches keys longer than its part before the '#', so that part plus
// ".>" is a superset. A pattern ending in '#' after more than the kind
// ("kind.binance.#") also matches "kind.binance" itself, so it reads the
// whole kind stream and filters in-process.
func filterFor(prefix, pattern string) (filter string, exact bool) {
	toks := strings.Split(pattern, ".")
	first := -1
	for i, t := range toks {
		if t == "#" {
			first = i
			break
		}
	}
	if first < 0 {
		return subject(prefix, pattern), true
	}
	onlyHashes := true
	for _, t := range toks[first:] {
		if t != "#" {
			onlyHashes = false
		}
	}
	if onlyHashes {
		return "", first == 1
	}
	return subject(prefix, strings.Join(toks[:first], ".")) + ".>", false
}
