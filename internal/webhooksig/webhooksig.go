// Package webhooksig signs the JSON bodies rotor posts to webhooks, so that receivers can check
// that a request comes from rotor, unaltered and recent. The scheme, shared by the webhook
// notifier and the webhook deployment step:
//
//	Rotor-Timestamp: <unix seconds>
//	Rotor-Signature: v1=<hex HMAC-SHA256(key, timestamp + "." + body)>
//
// Receivers recompute the HMAC over the raw body, compare in constant time, and reject
// timestamps outside a tolerance (five minutes by default) to stop replays.
package webhooksig

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Header names.
const (
	TimestampHeader = "Rotor-Timestamp"
	SignatureHeader = "Rotor-Signature"
)

// DefaultTolerance is how far a timestamp may be from the receiver's clock.
const DefaultTolerance = 5 * time.Minute

// Sign returns the timestamp and signature header values for body sent at at.
func Sign(key []byte, at time.Time, body []byte) (timestamp, signature string) {
	timestamp = strconv.FormatInt(at.Unix(), 10)
	return timestamp, "v1=" + hex.EncodeToString(mac(key, timestamp, body))
}

func mac(key []byte, timestamp string, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(timestamp))
	h.Write([]byte("."))
	h.Write(body)
	return h.Sum(nil)
}

// Verify checks the header values of a request with body received at now.
func Verify(key []byte, timestamp, signature string, body []byte, now time.Time, tolerance time.Duration) error {
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("%s is not a unix time", TimestampHeader)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%s is %s away from now: a replay or a wrong clock", TimestampHeader, d.Round(time.Second))
	}
	for _, part := range strings.Split(signature, ",") {
		v, ok := strings.CutPrefix(strings.TrimSpace(part), "v1=")
		if !ok {
			continue
		}
		got, err := hex.DecodeString(v)
		if err == nil && hmac.Equal(got, mac(key, timestamp, body)) {
			return nil
		}
	}
	return errors.New("signature does not match")
}
