package ocpp

import (
	"encoding/json"
	"fmt"
	"math"
)

// The charge point's reports, dialect-neutral: each dialect's handlers
// translate and call these.

func (cs *CentralSystem) status(id string, conn int, status, code, info string) {
	s := cs.reg.sessionOrNew(id)
	s.mu.Lock()
	c := s.connector(conn)
	changed := c.status != status || c.errorCode != code
	if c.status != status {
		c.statusAt = cs.now()
	}
	c.status, c.errorCode, c.errorInfo = status, code, info
	if status == "Available" {
		// The car left: its state of charge is no longer anyone's.
		c.meter.soc = nil
		if len(s.conns) <= 1 {
			s.station.meter.soc = nil
		}
	}
	s.lastSeen = cs.now()
	s.mu.Unlock()
	if changed {
		cs.log.Info("connector status", "charge_point", id, "connector", conn, "status", status,
			"error_code", code, "info", info)
	}
}

func (cs *CentralSystem) meter(id string, conn int, tx string, groups [][]sample) {
	s := cs.reg.sessionOrNew(id)
	now := cs.now()
	cs.meterMsgs.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastSeen = now
	c := s.connector(conn)
	if tx != "" && conn > 0 && c.tx == nil {
		// A transaction that began before evbridge (re)started.
		c.tx = &transaction{id: tx}
		cs.log.Info("running transaction adopted", "charge_point", id, "connector", conn, "transaction", tx)
	}
	used := 0
	for _, g := range groups {
		used += c.meter.applySamples(g, now)
	}
	if used == 0 && len(groups) > 0 {
		cs.log.Debug("meter values without a usable measurand", "charge_point", id, "connector", conn)
	}
}

func (cs *CentralSystem) startTx(id string, conn int, txID, tag string, startWh float64) bool {
	ok := cs.authorize(id, tag)
	s := cs.reg.sessionOrNew(id)
	s.mu.Lock()
	c := s.connector(conn)
	c.tx = &transaction{id: txID, idTag: tag, started: cs.now()}
	if startWh >= 0 && !math.IsNaN(startWh) && !math.IsInf(startWh, 0) {
		c.tx.startWh = ptr(startWh)
		if c.meter.energyWh == nil || startWh > *c.meter.energyWh {
			c.meter.energyWh = ptr(startWh)
		}
	}
	c.lastWh = nil
	s.mu.Unlock()
	cs.log.Info("transaction started", "charge_point", id, "connector", conn, "transaction", txID,
		"id_tag", tag, "authorized", ok, "meter_start_wh", startWh)
	return ok
}

func (cs *CentralSystem) stopTx(id, txID string, stopWh float64, reason string, groups [][]sample) {
	s := cs.reg.sessionOrNew(id)
	now := cs.now()
	s.mu.Lock()
	var c *connector
	conn := 0
	for n, k := range s.conns {
		if k.tx != nil && k.tx.id == txID {
			c, conn = k, n
		}
	}
	if c == nil {
		s.mu.Unlock()
		cs.log.Warn("stop of an unknown transaction", "charge_point", id, "transaction", txID, "reason", reason)
		return
	}
	for _, g := range groups {
		c.meter.applySamples(g, now)
	}
	validStop := stopWh >= 0 && !math.IsNaN(stopWh) && !math.IsInf(stopWh, 0)
	if validStop {
		if c.tx.startWh != nil {
			c.lastWh = ptr(math.Max(0, stopWh-*c.tx.startWh))
		}
		if c.meter.energyWh == nil || stopWh > *c.meter.energyWh {
			c.meter.energyWh = ptr(stopWh)
		}
	}
	c.tx = nil
	s.mu.Unlock()
	cs.log.Info("transaction stopped", "charge_point", id, "connector", conn, "transaction", txID,
		"reason", reason, "meter_stop_wh", stopWh)
}

// toString renders a DataTransfer payload for the log.
func toString(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	return string(b)
}
