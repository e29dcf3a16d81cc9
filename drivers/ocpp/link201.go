package ocpp

import (
	"context"
	"errors"
	"math"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/lorenzodonini/ocpp-go/ocpp2.0.1/provisioning"
	"github.com/lorenzodonini/ocpp-go/ocpp2.0.1/remotecontrol"
	"github.com/lorenzodonini/ocpp-go/ocpp2.0.1/smartcharging"
	"github.com/lorenzodonini/ocpp-go/ocpp2.0.1/types"
)

// remoteStartSeq numbers RequestStartTransaction calls (remoteStartId).
var remoteStartSeq atomic.Int64

// Device model variables (OCPP 2.0.1 part 2, appendix "standardized
// components and variables") evbridge reads or sets.
var (
	varTxInterval   = [2]string{"SampledDataCtrlr", "TxUpdatedInterval"}
	varTxMeasurands = [2]string{"SampledDataCtrlr", "TxUpdatedMeasurands"}
	varPhases3to1   = [2]string{"SmartChargingCtrlr", "Phases3to1"}
	varRateUnit     = [2]string{"SmartChargingCtrlr", "RateUnit"}
)

// link201 sends commands to one OCPP 2.0.1 connection; "connector" is the
// EVSE id.
type link201 struct {
	v  *v201
	id string
	s  *Session
}

func (l *link201) proto() string { return ProtoOCPP201 }

func (l *link201) setLimit(ctx context.Context, evse int, amps float64, phases int, txID string) error {
	c := l.s.capsNow()
	return setLimits(ctx, l.v.cs, l.s, txID, func(ctx context.Context, tx string) error {
		purpose, id := types.ChargingProfilePurposeTxDefaultProfile, profileIDTxDefault+evse
		if tx != "" {
			purpose, id = types.ChargingProfilePurposeTxProfile, profileIDTx+evse
		}
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
		sched := types.NewChargingSchedule(1, unit, period)
		sched.StartSchedule = types.NewDateTime(time.Now().Add(-time.Minute).UTC().Truncate(time.Second))
		p := types.NewChargingProfile(id, 0, purpose, types.ChargingProfileKindAbsolute, []types.ChargingSchedule{*sched})
		p.TransactionID = tx
		conf, err := await(ctx, "set charging profile", func(cb func(*smartcharging.SetChargingProfileResponse, error)) error {
			return l.v.api.SetChargingProfile(l.id, cb, evse, p)
		})
		if err != nil {
			return err
		}
		return statusError("set charging profile", string(conf.Status))
	})
}

func (l *link201) remoteStart(ctx context.Context, evse int, idTag string) error {
	token := types.IdToken{IdToken: idTag, Type: types.IdTokenTypeCentral}
	conf, err := await(ctx, "request start", func(cb func(*remotecontrol.RequestStartTransactionResponse, error)) error {
		return l.v.api.RequestStartTransaction(l.id, cb, int(remoteStartSeq.Add(1)), token,
			func(r *remotecontrol.RequestStartTransactionRequest) { r.EvseID = &evse })
	})
	if err != nil {
		return err
	}
	return statusError("request start", string(conf.Status))
}

func (l *link201) trigger(ctx context.Context, what trigger, evse int) error {
	msg := map[trigger]remotecontrol.MessageTrigger{triggerBoot: remotecontrol.MessageTriggerBootNotification,
		triggerStatus: remotecontrol.MessageTriggerStatusNotification, triggerMeter: remotecontrol.MessageTriggerMeterValues}[what]
	conf, err := await(ctx, "trigger "+string(msg), func(cb func(*remotecontrol.TriggerMessageResponse, error)) error {
		return l.v.api.TriggerMessage(l.id, cb, msg, func(r *remotecontrol.TriggerMessageRequest) {
			if evse > 0 {
				r.Evse = &types.EVSE{ID: evse}
			}
		})
	})
	if err != nil {
		return err
	}
	return statusError("trigger "+string(msg), string(conf.Status))
}

// reset reboots at once, ending transactions (1.6's soft reset).
func (l *link201) reset(ctx context.Context) error {
	conf, err := await(ctx, "reset", func(cb func(*provisioning.ResetResponse, error)) error {
		return l.v.api.Reset(l.id, cb, provisioning.ResetTypeImmediate)
	})
	if err != nil {
		return err
	}
	return statusError("reset", string(conf.Status))
}

func (l *link201) setVariable(ctx context.Context, v [2]string, value string) error {
	d := provisioning.SetVariableData{AttributeValue: value, Component: types.Component{Name: v[0]},
		Variable: types.Variable{Name: v[1]}}
	conf, err := await(ctx, "set variable "+v[1], func(cb func(*provisioning.SetVariablesResponse, error)) error {
		return l.v.api.SetVariables(l.id, cb, []provisioning.SetVariableData{d})
	})
	if err != nil {
		return err
	}
	if len(conf.SetVariableResult) != 1 {
		return statusError("set variable "+v[1], "no result")
	}
	st := string(conf.SetVariableResult[0].AttributeStatus)
	if st == string(provisioning.SetVariableStatusRebootRequired) {
		return nil
	}
	return statusError("set variable "+v[1], st)
}

// variables reads device model variables; unknown ones are left out.
func (l *link201) variables(ctx context.Context, vars ...[2]string) (map[[2]string]string, error) {
	req := make([]provisioning.GetVariableData, 0, len(vars))
	for _, v := range vars {
		req = append(req, provisioning.GetVariableData{Component: types.Component{Name: v[0]}, Variable: types.Variable{Name: v[1]}})
	}
	conf, err := await(ctx, "get variables", func(cb func(*provisioning.GetVariablesResponse, error)) error {
		return l.v.api.GetVariables(l.id, cb, req)
	})
	if err != nil {
		return nil, err
	}
	out := map[[2]string]string{}
	for _, r := range conf.GetVariableResult {
		if r.AttributeStatus == provisioning.GetVariableStatusAccepted {
			out[[2]string{r.Component.Name, r.Variable.Name}] = r.AttributeValue
		}
	}
	return out, nil
}

// configure is link16.configure in 2.0.1 terms: device model variables
// instead of configuration keys.
func (l *link201) configure(ctx context.Context, s *Session) {
	cfg, log := l.v.cs.cfg, l.v.cs.log.With("charge_point", l.id)
	bounded := func(fn func(context.Context) error) error {
		cctx, cancel := context.WithTimeout(ctx, cfg.CallTimeout)
		defer cancel()
		return fn(cctx)
	}
	var vals map[[2]string]string
	err := bounded(func(ctx context.Context) (err error) {
		vals, err = l.variables(ctx, varPhases3to1, varRateUnit, varTxInterval, varTxMeasurands)
		return err
	})
	if err != nil {
		log.Info("GetVariables failed; assuming defaults", "err", err)
	}
	c := caps{known: vals != nil, connectors: max(1, len(s.connectorIDs()))}
	c.phaseSwitch = strings.EqualFold(vals[varPhases3to1], "true")
	c.powerOnly = strings.Contains(vals[varRateUnit], "W") && !strings.Contains(vals[varRateUnit], "A")
	want := int(cfg.MeterInterval.Seconds())
	for _, sec := range []int{want, 30, 60} {
		if sec < want || ctx.Err() != nil {
			continue
		}
		v := strconv.Itoa(sec)
		err := error(nil)
		if vals[varTxInterval] != v {
			err = bounded(func(ctx context.Context) error { return l.setVariable(ctx, varTxInterval, v) })
		}
		if err == nil {
			c.meterInterval = time.Duration(sec) * time.Second
			break
		}
		log.Info("meter interval refused", "seconds", sec, "err", err)
		if !errors.Is(err, charger.ErrRejected) && !errors.Is(err, charger.ErrNotSupported) {
			break
		}
	}
	for _, set := range measurandSets {
		if ctx.Err() != nil {
			break
		}
		err := error(nil)
		if vals[varTxMeasurands] != set {
			err = bounded(func(ctx context.Context) error { return l.setVariable(ctx, varTxMeasurands, set) })
		}
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
	log.Info("charging station configured", "evses", c.connectors, "phase_switch", c.phaseSwitch,
		"power_only", c.powerOnly, "meter_interval", c.meterInterval, "measurands", c.measurands)
	if err := bounded(func(ctx context.Context) error { return l.trigger(ctx, triggerStatus, 0) }); err != nil {
		log.Info("status trigger refused", "err", err)
	}
	for n := 1; n <= c.connectors && ctx.Err() == nil; n++ {
		if err := bounded(func(ctx context.Context) error { return l.trigger(ctx, triggerMeter, n) }); err != nil {
			log.Info("meter values trigger refused", "evse", n, "err", err)
		}
	}
}

var _ link = (*link201)(nil)
