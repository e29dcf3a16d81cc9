package ocpp

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/lorenzodonini/ocpp-go/ocpp1.6/core"
	"github.com/lorenzodonini/ocpp-go/ocpp1.6/remotetrigger"
	"github.com/lorenzodonini/ocpp-go/ocpp1.6/smartcharging"
	"github.com/lorenzodonini/ocpp-go/ocpp1.6/types"
)

// Profile ids: one per purpose and connector, so each new setpoint
// replaces the previous profile (same chargingProfileId).
const (
	profileIDTxDefault = 100
	profileIDTx        = 200
)

// measurandSets are tried in order for MeterValuesSampledData until the
// charge point accepts one: some refuse a list naming a measurand they
// lack (Wallbox fw 5 refuses Current.Offered, EVBox ELVI long lists).
var measurandSets = []string{
	"Energy.Active.Import.Register,Power.Active.Import,Current.Import,Voltage,Current.Offered,SoC",
	"Energy.Active.Import.Register,Power.Active.Import,Current.Import,Voltage",
	"Energy.Active.Import.Register,Power.Active.Import,Current.Import",
	"Energy.Active.Import.Register,Power.Active.Import",
}

// link16 sends commands to one OCPP 1.6 connection.
type link16 struct {
	v  *v16
	id string
	s  *Session
}

func (l *link16) proto() string { return ProtoOCPP16 }

func (l *link16) setLimit(ctx context.Context, conn int, amps float64, phases int, txID string) error {
	c := l.s.capsNow()
	return setLimits(ctx, l.v.cs, l.s, txID, func(ctx context.Context, tx string) error {
		purpose, id := types.ChargingProfilePurposeTxDefaultProfile, profileIDTxDefault+conn
		if tx != "" {
			purpose, id = types.ChargingProfilePurposeTxProfile, profileIDTx+conn
		}
		p := profile16(purpose, id, amps, phases, c, time.Now())
		if tx != "" {
			n, err := strconv.Atoi(tx)
			if err != nil {
				return fmt.Errorf("%w: transaction id %q is not a number", charger.ErrNotSupported, tx)
			}
			p.TransactionId = n
		}
		return l.sendProfile(ctx, conn, p)
	})
}

// profile16 is a one-period absolute schedule valid from a minute ago, so
// clock skew cannot delay it; limit in A truncated to 0.1 A, or in W
// (230 V per phase) for charge points that take power only.
func profile16(purpose types.ChargingProfilePurposeType, id int, amps float64, phases int, c caps, now time.Time) *types.ChargingProfile {
	limit, unit := math.Floor(amps*10)/10, types.ChargingRateUnitAmperes
	if c.powerOnly {
		n := phases
		if n == 0 {
			n = 3
		}
		limit, unit = math.Floor(amps*230*float64(n)), types.ChargingRateUnitWatts
	}
	period := types.NewChargingSchedulePeriod(0, limit)
	if phases > 0 && c.phaseSwitch {
		period.NumberPhases = &phases
	}
	sched := types.NewChargingSchedule(unit, period)
	sched.StartSchedule = types.NewDateTime(now.Add(-time.Minute).UTC().Truncate(time.Second))
	return types.NewChargingProfile(id, 0, purpose, types.ChargingProfileKindAbsolute, sched)
}

func (l *link16) sendProfile(ctx context.Context, conn int, p *types.ChargingProfile) error {
	conf, err := await(ctx, "set charging profile", func(cb func(*smartcharging.SetChargingProfileConfirmation, error)) error {
		return l.v.api.SetChargingProfile(l.id, cb, conn, p)
	})
	if err != nil {
		return err
	}
	return statusError("set charging profile", string(conf.Status))
}

func (l *link16) remoteStart(ctx context.Context, conn int, idTag string) error {
	conf, err := await(ctx, "remote start", func(cb func(*core.RemoteStartTransactionConfirmation, error)) error {
		return l.v.api.RemoteStartTransaction(l.id, cb, idTag, func(r *core.RemoteStartTransactionRequest) {
			r.ConnectorId = &conn
		})
	})
	if err != nil {
		return err
	}
	return statusError("remote start", string(conf.Status))
}

func (l *link16) trigger(ctx context.Context, what trigger, conn int) error {
	msg := map[trigger]remotetrigger.MessageTrigger{
		triggerBoot: core.BootNotificationFeatureName, triggerStatus: core.StatusNotificationFeatureName,
		triggerMeter: core.MeterValuesFeatureName,
	}[what]
	conf, err := await(ctx, "trigger "+string(msg), func(cb func(*remotetrigger.TriggerMessageConfirmation, error)) error {
		return l.v.api.TriggerMessage(l.id, cb, msg, func(r *remotetrigger.TriggerMessageRequest) {
			if conn > 0 {
				r.ConnectorId = &conn
			}
		})
	})
	if err != nil {
		return err
	}
	return statusError("trigger "+string(msg), string(conf.Status))
}

func (l *link16) reset(ctx context.Context) error {
	conf, err := await(ctx, "reset", func(cb func(*core.ResetConfirmation, error)) error {
		return l.v.api.Reset(l.id, cb, core.ResetTypeSoft)
	})
	if err != nil {
		return err
	}
	return statusError("reset", string(conf.Status))
}

func (l *link16) getConfiguration(ctx context.Context) (map[string]string, error) {
	conf, err := await(ctx, "get configuration", func(cb func(*core.GetConfigurationConfirmation, error)) error {
		return l.v.api.GetConfiguration(l.id, cb, nil)
	})
	if err != nil {
		return nil, err
	}
	keys := map[string]string{}
	for _, k := range conf.ConfigurationKey {
		if k.Value != nil {
			keys[k.Key] = *k.Value
		} else {
			keys[k.Key] = ""
		}
	}
	return keys, nil
}

func (l *link16) changeConfiguration(ctx context.Context, key, value string) error {
	conf, err := await(ctx, "change configuration "+key, func(cb func(*core.ChangeConfigurationConfirmation, error)) error {
		return l.v.api.ChangeConfiguration(l.id, cb, key, value)
	})
	if err != nil {
		return err
	}
	if conf.Status == core.ConfigurationStatusRebootRequired {
		return nil
	}
	return statusError("change configuration "+key, string(conf.Status))
}

// configure learns what the charge point can do, sets the meter interval
// and measurands, and asks for fresh status and meter values. Every step
// is best effort: a charge point that refuses one still charges.
func (l *link16) configure(ctx context.Context, s *Session) {
	cfg, log := l.v.cs.cfg, l.v.cs.log.With("charge_point", l.id)
	bounded := func(fn func(context.Context) error) error {
		cctx, cancel := context.WithTimeout(ctx, cfg.CallTimeout)
		defer cancel()
		return fn(cctx)
	}
	var keys map[string]string
	err := bounded(func(ctx context.Context) (err error) { keys, err = l.getConfiguration(ctx); return err })
	if err != nil {
		log.Info("GetConfiguration failed; assuming defaults", "err", err)
	}
	c := caps16(keys)
	want := int(cfg.MeterInterval.Seconds())
	for _, sec := range []int{want, 30, 60} {
		if sec < want || ctx.Err() != nil {
			continue
		}
		v := strconv.Itoa(sec)
		if keys["MeterValueSampleInterval"] == v {
			c.meterInterval = time.Duration(sec) * time.Second
			break
		}
		err := bounded(func(ctx context.Context) error { return l.changeConfiguration(ctx, "MeterValueSampleInterval", v) })
		if err == nil {
			c.meterInterval = time.Duration(sec) * time.Second
			break
		}
		log.Info("meter interval refused", "seconds", sec, "err", err)
		if !errors.Is(err, charger.ErrRejected) && !errors.Is(err, charger.ErrNotSupported) {
			break
		}
	}
	maxLen, _ := strconv.Atoi(keys["MeterValuesSampledDataMaxLength"])
	for _, set := range measurandSets {
		if ctx.Err() != nil || maxLen > 0 && strings.Count(set, ",")+1 > maxLen {
			continue
		}
		if keys["MeterValuesSampledData"] == set {
			c.measurands = set
			break
		}
		err := bounded(func(ctx context.Context) error { return l.changeConfiguration(ctx, "MeterValuesSampledData", set) })
		if err == nil {
			c.measurands = set
			break
		}
		log.Info("measurands refused", "measurands", set, "err", err)
		if !errors.Is(err, charger.ErrRejected) && !errors.Is(err, charger.ErrNotSupported) {
			break
		}
	}
	s.mu.Lock()
	s.caps = c
	s.mu.Unlock()
	log.Info("charge point configured", "connectors", c.connectors, "phase_switch", c.phaseSwitch,
		"power_only", c.powerOnly, "meter_interval", c.meterInterval, "measurands", c.measurands)
	if err := bounded(func(ctx context.Context) error { return l.trigger(ctx, triggerStatus, 0) }); err != nil {
		log.Info("status trigger refused", "err", err)
	}
	for n := 1; n <= c.connectors && ctx.Err() == nil; n++ {
		if err := bounded(func(ctx context.Context) error { return l.trigger(ctx, triggerMeter, n) }); err != nil {
			log.Info("meter values trigger refused", "connector", n, "err", err)
		}
	}
}

// caps16 reads the standard (and a few vendor) configuration keys.
func caps16(keys map[string]string) caps {
	c := caps{known: keys != nil, connectors: 1, supportedProfs: keys["SupportedFeatureProfiles"]}
	if n, err := strconv.Atoi(keys["NumberOfConnectors"]); err == nil && n >= 1 && n <= maxConnector {
		c.connectors = n
	}
	c.phaseSwitch = strings.EqualFold(keys["ConnectorSwitch3to1PhaseSupported"], "true") ||
		strings.EqualFold(keys["ACPhaseSwitchingSupported"], "true")
	units := keys["ChargingScheduleAllowedChargingRateUnit"]
	c.powerOnly = strings.Contains(units, "Power") && !strings.Contains(units, "Current")
	return c
}

var _ link = (*link16)(nil)
