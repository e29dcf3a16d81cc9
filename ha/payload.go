package ha

import (
	"bytes"
	"encoding/json"
)

// The JSON shapes of a device discovery payload. Structs, not maps, so the
// key order is fixed and the same input always gives the same bytes (the
// core skips re-publishing an unchanged config); only the components map
// is a map, and encoding/json sorts its keys. Long key forms are used
// throughout except `cmps`, for readability in MQTT explorers.

type devicePayload struct {
	Device           deviceInfo           `json:"device"`
	Origin           origin               `json:"origin"`
	Availability     []availability       `json:"availability,omitempty"`
	AvailabilityMode string               `json:"availability_mode,omitempty"`
	StateTopic       string               `json:"state_topic,omitempty"`
	Components       map[string]component `json:"cmps"`
}

type deviceInfo struct {
	Identifiers      []string `json:"identifiers"`
	Name             string   `json:"name,omitempty"`
	Manufacturer     string   `json:"manufacturer,omitempty"`
	Model            string   `json:"model,omitempty"`
	SerialNumber     string   `json:"serial_number,omitempty"`
	SWVersion        string   `json:"sw_version,omitempty"`
	ConfigurationURL string   `json:"configuration_url,omitempty"`
	ViaDevice        string   `json:"via_device,omitempty"`
}

type origin struct {
	Name       string `json:"name"`
	SWVersion  string `json:"sw_version,omitempty"`
	SupportURL string `json:"support_url,omitempty"`
}

type availability struct {
	Topic string `json:"topic"`
}

// component is one entity under cmps. Optional fields are omitted when
// empty; pointers mark fields whose zero value is meaningful.
type component struct {
	Platform          string   `json:"platform"`
	Name              string   `json:"name"`
	UniqueID          string   `json:"unique_id"`
	DefaultEntityID   string   `json:"default_entity_id"`
	DeviceClass       string   `json:"device_class,omitempty"`
	StateClass        string   `json:"state_class,omitempty"`
	Unit              string   `json:"unit_of_measurement,omitempty"`
	DisplayPrecision  *int     `json:"suggested_display_precision,omitempty"`
	Options           []string `json:"options,omitempty"`
	EntityCategory    string   `json:"entity_category,omitempty"`
	EnabledByDefault  *bool    `json:"enabled_by_default,omitempty"`
	Icon              string   `json:"icon,omitempty"`
	AvailabilityTopic string   `json:"availability_topic,omitempty"`
	StateTopic        string   `json:"state_topic,omitempty"`
	// JSONAttributesTopic and Template expose a JSON list as attributes.
	JSONAttributesTopic    string   `json:"json_attributes_topic,omitempty"`
	JSONAttributesTemplate string   `json:"json_attributes_template,omitempty"`
	ValueTemplate          string   `json:"value_template,omitempty"`
	PayloadOn              string   `json:"payload_on,omitempty"`
	PayloadOff             string   `json:"payload_off,omitempty"`
	CommandTopic           string   `json:"command_topic,omitempty"`
	Min                    *float64 `json:"min,omitempty"`
	Max                    *float64 `json:"max,omitempty"`
	Step                   *float64 `json:"step,omitempty"`
	Mode                   string   `json:"mode,omitempty"`
	Pattern                string   `json:"pattern,omitempty"`
	PayloadPress           string   `json:"payload_press,omitempty"`
	QoS                    int      `json:"qos,omitempty"`
}

// encode marshals v without HTML escaping (templates contain < and >) and
// without the trailing newline json.Encoder adds.
func encode(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only NaN/Inf or unsupported types fail; the builders never
		// produce either, so this is a programming error.
		panic("ha: encode discovery payload: " + err.Error())
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func ptr[T any](v T) *T { return &v }
