package ocpp

import (
	"context"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/evbridge/evbridge/drivers/simcar"
)

// simIDTag is the idTag the simulator starts transactions with on plug-in.
const simIDTag = "SIMTAG"

// knownMeasurands are the measurands MeterValuesSampledData accepts.
var knownMeasurands = map[string]bool{
	"Energy.Active.Import.Register": true, "Power.Active.Import": true, "Current.Import": true,
	"Voltage": true, "Current.Offered": true, "Power.Offered": true, "SoC": true,
}

// loop is the device logic of one connection: boot until accepted, then
// follow the car, send status changes, meter values and heartbeats, and
// run the jobs handlers queue.
func (s *ChargePointSim) loop(ctx context.Context, p simProto) {
	tick := time.NewTicker(s.cfg.Tick)
	defer tick.Stop()
	// Due times follow the latest intervals: a changed interval applies
	// from the last message on.
	var nextBoot, lastMeter, lastBeat time.Time
	for {
		now := time.Now()
		s.mu.Lock()
		registered := s.registered
		s.mu.Unlock()
		if !registered && !now.Before(nextBoot) {
			_ = p.boot()
			s.mu.Lock()
			registered = s.registered
			nextBoot = now.Add(s.heartbeat)
			s.mu.Unlock()
			if registered {
				lastMeter, lastBeat = time.Time{}, now
			}
		}
		if registered {
			s.step(p)
			s.mu.Lock()
			interval, beat := s.meterInterval, s.heartbeat
			s.mu.Unlock()
			if !now.Before(lastMeter.Add(interval)) {
				_ = p.meter(false)
				lastMeter = now
			}
			if !now.Before(lastBeat.Add(beat)) {
				_ = p.heartbeat()
				lastBeat = now
			}
		}
		select {
		case <-ctx.Done():
			return
		case job := <-s.jobs:
			job(p)
		case <-tick.C:
		}
	}
}

// step starts or stops transactions as the cable says, offers the car what
// the profiles allow and reports a changed status.
func (s *ChargePointSim) step(p simProto) {
	s.mu.Lock()
	plugged, tx := s.plugged, s.tx
	start := plugged && tx == "" && s.available && !s.cfg.NoAutoStart && !s.autoStarted
	if start {
		s.autoStarted = true
	}
	if !plugged {
		s.autoStarted = false
	}
	s.mu.Unlock()
	if start {
		_ = p.startTx(simIDTag)
	}
	if !plugged && tx != "" {
		_ = p.stopTx("EVDisconnected")
	}
	s.mu.Lock()
	if s.tx == "" && s.goUnavailable {
		s.available, s.goUnavailable = false, false
	}
	limit, phases := s.offerLocked()
	enabled := s.tx != "" && s.available && limit >= simcar.MinCurrent
	s.mu.Unlock()
	s.car.Offer(limit, phases, enabled)
	r := s.car.Read()
	s.mu.Lock()
	st := s.statusLocked(r, limit)
	changed := st != s.status
	s.mu.Unlock()
	if changed && p.status(st) == nil {
		s.mu.Lock()
		s.status = st
		s.mu.Unlock()
	}
}

func (s *ChargePointSim) statusLocked(r simcar.Reading, limit float64) string {
	switch {
	case !s.available:
		return "Unavailable"
	case !s.plugged:
		return "Available"
	case s.tx == "":
		return "Preparing"
	case limit < simcar.MinCurrent:
		return "SuspendedEVSE"
	case r.Charging:
		return "Charging"
	}
	return "SuspendedEV"
}

// offerLocked is what the installed profiles allow: a transaction's
// TxProfile, else the connector's TxDefaultProfile, else the station's,
// capped by ChargePointMaxProfile and the hardware; the caller holds s.mu.
func (s *ChargePointSim) offerLocked() (amps float64, phases int) {
	amps, phases = s.cfg.MaxCurrent, 3
	p, ok := s.profiles["TxProfile/1"]
	if ok && (s.tx == "" || p.tx != s.tx) {
		ok = false
	}
	if !ok {
		p, ok = s.profiles["TxDefaultProfile/1"]
	}
	if !ok {
		p, ok = s.profiles["TxDefaultProfile/0"]
	}
	if ok {
		amps = math.Min(amps, p.amps)
		if p.phases > 0 && !s.cfg.Quirks.NoPhaseSwitch {
			phases = p.phases
		}
	}
	if m, ok := s.profiles["ChargePointMaxProfile/0"]; ok {
		amps = math.Min(amps, m.amps)
	}
	return amps, phases
}

// installProfile applies SetChargingProfile; limit is in A, or in W when
// watts is set. It returns the status to answer.
func (s *ChargePointSim) installProfile(p simProfile, limit float64, watts bool) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	reject := func() string { s.rejected++; return "Rejected" }
	if p.conn > 1 || p.conn < 0 || s.cfg.Quirks.ConnectorProfilesOnly && p.conn == 0 || limit < 0 {
		return reject()
	}
	switch p.purpose {
	case "TxProfile":
		if s.cfg.Quirks.NoTxProfile || s.tx == "" || p.tx != "" && p.tx != s.tx {
			return reject()
		}
		p.tx = s.tx
	case "TxDefaultProfile", "ChargePointMaxProfile":
	default:
		return reject()
	}
	if p.phases != 0 && p.phases != 1 && p.phases != 3 {
		return reject()
	}
	p.amps = limit
	if watts {
		n := p.phases
		if n == 0 {
			n = 3
		}
		p.amps = limit / (230 * float64(n))
	}
	s.profiles[p.purpose+"/"+strconv.Itoa(p.conn)] = p
	s.accepted++
	return "Accepted"
}

// clearProfiles removes profiles matching purpose ("" = any); it reports
// whether one was removed.
func (s *ChargePointSim) clearProfiles(purpose string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.profiles)
	for k, p := range s.profiles {
		if purpose == "" || p.purpose == purpose {
			delete(s.profiles, k)
		}
	}
	return len(s.profiles) < n
}

// changeConfig applies ChangeConfiguration and returns its status.
func (s *ChargePointSim) changeConfig(key, value string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch key {
	case "MeterValueSampleInterval", "HeartbeatInterval", "WebSocketPingInterval":
		n, err := strconv.Atoi(value)
		d := time.Duration(n) * time.Second
		if err != nil || n < 0 || key == "MeterValueSampleInterval" && (n == 0 || d < s.cfg.Quirks.MinMeterInterval) {
			return "Rejected"
		}
		switch key {
		case "MeterValueSampleInterval":
			s.meterInterval = d
		case "HeartbeatInterval":
			s.heartbeat = d
		}
		return "Accepted"
	case "MeterValuesSampledData":
		for _, m := range strings.Split(value, ",") {
			m = strings.TrimSpace(m)
			if !knownMeasurands[m] || s.cfg.Quirks.NoOfferedMeasurands && strings.HasSuffix(m, ".Offered") {
				return "Rejected"
			}
		}
		s.measurands = value
		return "Accepted"
	case "NumberOfConnectors", "SupportedFeatureProfiles", "ConnectorSwitch3to1PhaseSupported",
		"ChargingScheduleAllowedChargingRateUnit", "ChargeProfileMaxStackLevel":
		return "Rejected" // read-only
	}
	return "NotSupported"
}

// configKeys is GetConfiguration's answer: key → value, read-only.
func (s *ChargePointSim) configKeys() map[string][2]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	secs := func(d time.Duration) string { return strconv.Itoa(int(d / time.Second)) }
	return map[string][2]string{
		"NumberOfConnectors":                      {"1", "ro"},
		"SupportedFeatureProfiles":                {"Core,SmartCharging,RemoteTrigger", "ro"},
		"ConnectorSwitch3to1PhaseSupported":       {strconv.FormatBool(!s.cfg.Quirks.NoPhaseSwitch), "ro"},
		"ChargingScheduleAllowedChargingRateUnit": {"Current", "ro"},
		"ChargeProfileMaxStackLevel":              {"8", "ro"},
		"MeterValueSampleInterval":                {secs(s.meterInterval), "rw"},
		"MeterValuesSampledData":                  {s.measurands, "rw"},
		"HeartbeatInterval":                       {secs(s.heartbeat), "rw"},
	}
}

// simSample is one meter value the simulator reports.
type simSample struct {
	measurand, phase, unit, location string
	value                            float64
}

// samples reads the meter for the configured measurands.
func (s *ChargePointSim) samples() ([]simSample, string) {
	r := s.car.Read()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.meterMsgs++
	limit, phases := s.offerLocked()
	if s.tx == "" || !s.available || limit < simcar.MinCurrent {
		limit = 0
	}
	var out []simSample
	for _, m := range strings.Split(s.measurands, ",") {
		switch m = strings.TrimSpace(m); m {
		case "Energy.Active.Import.Register":
			out = append(out, simSample{m, "", "Wh", "Outlet", math.Round(s.cfg.MeterStartWh + r.TotalWh)})
		case "Power.Active.Import":
			out = append(out, simSample{m, "", "W", "Outlet", r.Power})
		case "Current.Import", "Voltage":
			unit, vals, names := "A", r.Currents, []string{"L1", "L2", "L3"}
			if m == "Voltage" {
				unit, vals, names = "V", r.Voltages, []string{"L1-N", "L2-N", "L3-N"}
			}
			for i, v := range vals {
				out = append(out, simSample{m, names[i], unit, "Outlet", v})
			}
		case "Current.Offered":
			out = append(out, simSample{m, "", "A", "Outlet", limit})
		case "Power.Offered":
			out = append(out, simSample{m, "", "W", "Outlet", limit * 230 * float64(phases)})
		case "SoC":
			if r.Plugged {
				out = append(out, simSample{m, "", "Percent", "EV", math.Round(r.SoC)})
			}
		}
	}
	return out, s.tx
}

// txStarted and txStopped record a transaction's life.
func (s *ChargePointSim) txStarted(id string) {
	s.mu.Lock()
	s.tx = id
	s.mu.Unlock()
}

func (s *ChargePointSim) txStopped() {
	s.mu.Lock()
	s.tx = ""
	delete(s.profiles, "TxProfile/1")
	s.mu.Unlock()
}

func (s *ChargePointSim) meterWh() float64 {
	return math.Round(s.cfg.MeterStartWh + s.car.Read().TotalWh)
}
