package openevse

import "math"

// statusJSON is GET /status: the keys the firmware's buildStatus and
// create_rapi_json write that a client may use. The caller holds s.mu.
func (s *Simulator) statusJSON() map[string]any {
	e := &s.dev
	status := "disabled"
	if e.active {
		status = "active"
	}
	vehicle, override := 0, 0
	if e.plugged {
		vehicle = 1
	}
	if e.find(clientManual) != nil {
		override = 1
	}
	elapsed := int(s.now().Sub(e.started).Seconds())
	return map[string]any{
		"mode": "STA", "wifi_client_connected": 1, "eth_connected": 0, "net_connected": 1,
		"ipaddress": "192.168.1.43", "macaddress": s.cfg.MAC, "srssi": -61,
		"emoncms_connected": 0, "mqtt_connected": 0, "ocpp_connected": 0, "free_heap": 180312,
		"comm_sent": 1043, "comm_success": 1043, "rapi_connected": 1, "evse_connected": 1,
		"amp": math.Round(e.amps * 1000), "voltage": e.volts, "power": e.watts,
		"pilot": e.pilot, "max_current": e.maxCurrent, "wh": e.totalKWh * 1000,
		"session_energy": e.sessionWh, "total_energy": e.totalKWh, "total_day": 4.2, "total_week": 31.5,
		"total_month": 120.4, "total_year": 998.1, "session_elapsed": elapsed, "elapsed": elapsed,
		"temp": e.temp, "temp_max": e.temp, "temp1": e.temp, "temp2": false, "temp3": false,
		"state": e.state, "status": status, "flags": 0, "vehicle": vehicle, "colour": 0,
		"manual_override": override, "divertmode": 1, "divert_active": false, "service_level": 2,
		"gfcicount": 0, "nogndcount": 0, "stuckcount": 0, "ota_update": 0, "limit": false,
		"config_version": e.configVersion, "claims_version": e.claimsVersion,
		"override_version": e.overrideVersion, "schedule_version": 0, "limit_version": 0,
		"time": s.now().UTC().Format("2006-01-02T15:04:05Z"), "offset": "+0000",
	}
}

// configJSON is GET /config (models/Config.yaml), secrets masked.
func (s *Simulator) configJSON() map[string]any {
	s.mu.Lock()
	c := s.cfg
	s.mu.Unlock()
	return map[string]any{
		"firmware": c.Firmware, "protocol": "5.2.0", "espflash": 4194304, "espinfo": "ESP32r3 2 core WiFi BLE BT",
		"buildenv": c.BuildEnv, "version": c.Version, "diode_check": true, "gfci_check": true,
		"ground_check": true, "relay_check": true, "vent_check": true, "temp_check": true, "service": 2,
		"max_current_soft": c.MaxCurrentSoft, "min_current_hard": c.MinCurrentHard,
		"max_current_hard": c.MaxCurrentHard, "ssid": "home", "pass": "_DUMMY_PASSWORD",
		"www_username": c.Username, "www_password": "_DUMMY_PASSWORD", "hostname": c.Hostname,
		"is_threephase": c.ThreePhase, "default_state": true, "charge_mode": "fast",
		"pause_uses_disabled": false, "mqtt_enabled": false, "ocpp_enabled": false,
	}
}

// targetJSON is GET /claims/target: the resolved properties and which
// client set each (EvseManager::serializeTarget). The caller holds s.mu.
func (s *Simulator) targetJSON() map[string]any {
	e := &s.dev
	state := "disabled"
	if e.active {
		state = "active"
	}
	props := map[string]any{"state": state, "charge_current": e.pilot, "max_current": e.maxCurrent,
		"auto_release": false}
	claims := map[string]any{}
	for k, c := range map[string]uint32{"state": e.stateClient, "charge_current": e.chargeClient,
		"max_current": e.maxClnt} {
		if c != 0 {
			claims[k] = c
		}
	}
	return map[string]any{"properties": props, "claims": claims}
}
