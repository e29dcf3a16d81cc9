package mqttmeter

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/evbridge/evbridge/drivers/jsonpath"
)

// maxPayload bounds what a payload may be; a bigger one is garbage.
const maxPayload = 64 << 10

// value is the parsed content of one payload.
type value struct {
	v     float64
	ok    bool      // false: the payload clears the field (empty, null)
	stamp time.Time // from time_path, if any
}

// parse turns a payload into the source's value, scaled. It does not
// check plausibility: that is done on the whole reading.
func (s *source) parse(payload []byte) (value, error) {
	if len(payload) > maxPayload {
		return value{}, fmt.Errorf("payload of %d bytes is too big", len(payload))
	}
	p := bytes.TrimSpace(payload)
	if len(p) == 0 {
		return value{}, nil
	}
	var raw, stamp any
	if s.path == nil {
		raw = string(p)
	} else {
		doc, err := jsonpath.Decode(p)
		if err != nil {
			return value{}, err
		}
		if raw, err = s.path.Lookup(doc); err != nil {
			return value{}, fmt.Errorf("json_path %s: %w", s.path, err)
		}
		if s.timePath != nil {
			if stamp, err = s.timePath.Lookup(doc); err != nil {
				return value{}, fmt.Errorf("time_path %s: %w", s.timePath, err)
			}
		}
	}
	f, err := jsonpath.Number(raw)
	switch {
	case errors.Is(err, jsonpath.ErrNull):
		return value{}, nil
	case err != nil:
		return value{}, err
	}
	out := value{v: f * s.scale, ok: true}
	if stamp != nil {
		if out.stamp, err = jsonpath.Time(stamp); err != nil {
			return value{}, fmt.Errorf("time_path %s: %w", s.timePath, err)
		}
	}
	return out, nil
}
