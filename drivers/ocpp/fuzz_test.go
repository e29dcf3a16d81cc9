package ocpp

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

// callErrorCodes16 are the CALLERROR codes OCPP-J 1.6 defines (the library
// spells OccurrenceConstraintViolation the 2.0.1 way).
var callErrorCodes16 = map[string]bool{
	"NotImplemented": true, "NotSupported": true, "InternalError": true, "ProtocolError": true,
	"SecurityError": true, "FormationViolation": true, "PropertyConstraintViolation": true,
	"OccurrenceConstraintViolation": true, "TypeConstraintViolation": true, "GenericError": true,
}

var frameSeeds = []string{
	bootFrame,
	`[2,"h","Heartbeat",{}]`,
	`[2,"s","StatusNotification",{"connectorId":1,"errorCode":"NoError","status":"Charging"}]`,
	`[2,"st","StartTransaction",{"connectorId":1,"idTag":"T","meterStart":5,"timestamp":"2026-01-01T00:00:00Z"}]`,
	`[2,"mv","MeterValues",{"connectorId":1,"transactionId":7,"meterValue":[{"timestamp":"2026-01-01T00:00:00Z","sampledValue":[{"value":"1.5","measurand":"Power.Active.Import","unit":"kW"},{"value":"16","measurand":"Current.Import","phase":"L2"}]}]}]`,
	`[2,"sp","StopTransaction",{"transactionId":7,"meterStop":99,"timestamp":"2026-01-01T00:00:00Z"}]`,
	`[2,"dt","DataTransfer",{"vendorId":"v","data":{"a":[1,2]}}]`,
	`[2,"m3","FooBar",{}]`, `[9,"m7","Heartbeat",{}]`, `[3,"x",{}]`, `[4,"x","GenericError","",{}]`,
	`not json`, `[]`, `[2]`, `[2,"u","Authorize",null]`, `[2,"u","Authorize",{"idTag":1}]`,
}

// callErrorCodes201 adds what OCPP-J 2.0.1 renamed or added.
var callErrorCodes201 = map[string]bool{"FormatViolation": true, "MessageTypeNotSupported": true, "RpcFrameworkError": true}

var frameSeeds201 = []string{
	`[2,"b","BootNotification",{"reason":"PowerUp","chargingStation":{"model":"m","vendorName":"v"}}]`,
	`[2,"s","StatusNotification",{"timestamp":"2026-01-01T00:00:00Z","connectorStatus":"Occupied","evseId":1,"connectorId":1}]`,
	`[2,"t","TransactionEvent",{"eventType":"Started","timestamp":"2026-01-01T00:00:00Z","triggerReason":"Authorized","seqNo":0,"transactionInfo":{"transactionId":"x","chargingState":"Charging"},"evse":{"id":1},"meterValue":[{"timestamp":"2026-01-01T00:00:00Z","sampledValue":[{"value":5,"measurand":"Power.Active.Import","unitOfMeasure":{"unit":"kW","multiplier":1}}]}]}]`,
	`[2,"e","TransactionEvent",{"eventType":"Ended","timestamp":"2026-01-01T00:00:00Z","triggerReason":"EVDeparted","seqNo":3,"transactionInfo":{"transactionId":"x"}}]`,
	`[2,"m","MeterValues",{"evseId":1,"meterValue":[{"timestamp":"2026-01-01T00:00:00Z","sampledValue":[{"value":1e308,"measurand":"Energy.Active.Import.Register","unitOfMeasure":{"multiplier":9}}]}]}]`,
}

// fuzzFrames feeds arbitrary frames to the central system as one connected
// charge point of proto: nothing may panic, and everything the central
// system writes back must be a well-formed OCPP-J message.
func fuzzFrames(f *testing.F, proto string, seeds []string, codes map[string]bool) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	cfg := testConfig()
	cfg.Protocols = []string{proto}
	cfg.CallTimeout = 100 * time.Millisecond
	cs, err := NewCentralSystem(cfg, NewRegistry(), nil, nil)
	if err != nil {
		f.Fatal(err)
	}
	if cs.v16 != nil {
		cs.v16.start()
	}
	if cs.v201 != nil {
		cs.v201.start()
	}
	f.Cleanup(cs.Close)
	ep := cs.t.eps[proto]
	c := newWSConn("fuzz", ep, nil, nil)
	cs.t.conns[c.id] = c
	ep.newClient(c)

	check := func(t *testing.T, out []byte) {
		var fr []any
		if err := json.Unmarshal(out, &fr); err != nil || len(fr) < 3 {
			t.Fatalf("central system wrote a malformed frame: %s", out)
		}
		switch fr[0] {
		case float64(2), float64(3):
		case float64(4):
			if code, _ := fr[2].(string); !codes[code] && !callErrorCodes16[code] || len(fr) != 5 {
				t.Fatalf("bad CALLERROR: %s", out)
			}
		default:
			t.Fatalf("unknown message type written: %s", out)
		}
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		c.deliver(frame)
		for {
			select {
			case out := <-c.out:
				check(t, out)
			default:
				return
			}
		}
	})
}

func FuzzCentralSystemFrame(f *testing.F) {
	fuzzFrames(f, ProtoOCPP16, frameSeeds, map[string]bool{})
}

func FuzzCentralSystemFrame201(f *testing.F) {
	fuzzFrames(f, ProtoOCPP201, append(frameSeeds201, frameSeeds...), callErrorCodes201)
}

// FuzzApplySamples: whatever a charge point reports, the meter holds only
// finite values and the energy register never decreases.
func FuzzApplySamples(f *testing.F) {
	f.Add("Energy.Active.Import.Register", "", "kWh", "12.5", 0, "Outlet", "Raw", "Power.Active.Import", "L1", "W", "1e3")
	f.Add("Current.Import", "L3", "A", "16", 0, "", "", "Voltage", "L1-L2", "V", "400")
	f.Add("SoC", "", "Percent", "55", 0, "EV", "", "Temperature", "", "K", "300")
	f.Add("", "", "", "NaN", 308, "", "SignedData", "Current.Offered", "", "", "-1")
	f.Fuzz(func(t *testing.T, m1, p1, u1, v1 string, mul int, loc, format, m2, p2, u2, v2 string) {
		var m meterState
		now := time.Now()
		a := []sample{{value: v1, measurand: m1, phase: p1, unit: u1, multiplier: mul % 400, location: loc, format: format},
			{value: v2, measurand: m2, phase: p2, unit: u2}}
		m.applySamples(a, now)
		before := m.energyWh
		m.applySamples([]sample{{value: v2, measurand: "Energy.Active.Import.Register", unit: u2}}, now)
		if before != nil && (m.energyWh == nil || *m.energyWh < *before) {
			t.Fatalf("energy went from %v to %v", *before, m.energyWh)
		}
		vals := []*float64{m.power, m.energyWh, m.offered, m.soc, m.temp}
		vals = append(vals, m.currents[:]...)
		vals = append(vals, m.voltages[:]...)
		for _, v := range vals {
			if v != nil && (math.IsNaN(*v) || math.IsInf(*v, 0)) {
				t.Fatalf("non-finite value in %+v", m)
			}
		}
		if m.soc != nil && (*m.soc < 0 || *m.soc > 100) {
			t.Fatalf("soc %v", *m.soc)
		}
	})
}

// FuzzIdentity: a request path yields either nothing or one valid identity.
func FuzzIdentity(f *testing.F) {
	for _, s := range []string{"/CP1", "/ocpp/CP1", "/ocpp/a/b", "/ocpp/", "/ocpp/a b", "/ocpp/ä", "/ocpp/" + strings.Repeat("x", 49)} {
		f.Add(s)
	}
	tr := newTransport(ServerConfig{PathPrefix: "/ocpp", Protocols: []string{ProtoOCPP16}}, nil)
	f.Fuzz(func(t *testing.T, path string) {
		id, ok := tr.identity(path)
		if !ok {
			return
		}
		if err := checkIdentity(id); err != nil || strings.Contains(id, "/") || "/ocpp/"+id != path {
			t.Fatalf("path %q gave identity %q (%v)", path, id, err)
		}
	})
}
