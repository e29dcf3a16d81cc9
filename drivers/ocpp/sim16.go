package ocpp

import (
	"context"
	"fmt"
	"strconv"
	"time"

	ocpp16 "github.com/lorenzodonini/ocpp-go/ocpp1.6"
	"github.com/lorenzodonini/ocpp-go/ocpp1.6/core"
	"github.com/lorenzodonini/ocpp-go/ocpp1.6/firmware"
	"github.com/lorenzodonini/ocpp-go/ocpp1.6/localauth"
	"github.com/lorenzodonini/ocpp-go/ocpp1.6/remotetrigger"
	"github.com/lorenzodonini/ocpp-go/ocpp1.6/reservation"
	"github.com/lorenzodonini/ocpp-go/ocpp1.6/smartcharging"
	"github.com/lorenzodonini/ocpp-go/ocpp1.6/types"
	"github.com/lorenzodonini/ocpp-go/ocppj"
	"github.com/lorenzodonini/ocpp-go/ws"
)

// newWSClient is the library's WebSocket client, with its own reconnect
// pushed out of the way: Run reconnects (and re-creates the client).
func (s *ChargePointSim) newWSClient() *ws.Client {
	c := ws.NewClient()
	if s.cfg.TLS != nil {
		c = ws.NewTLSClient(s.cfg.TLS)
	}
	tc := ws.NewClientTimeoutConfig()
	tc.HandshakeTimeout = 10 * time.Second
	tc.RetryBackOffWaitMinimum = 24 * time.Hour
	c.SetTimeoutConfig(tc)
	if s.cfg.Password != "" {
		c.SetBasicAuth(s.cfg.ID, s.cfg.Password)
	}
	return c
}

func (s *ChargePointSim) run16(ctx context.Context, url string) error {
	wsc := s.newWSClient()
	ep := ocppj.NewClient(s.cfg.ID, wsc, nil, nil, core.Profile, localauth.Profile, firmware.Profile,
		reservation.Profile, remotetrigger.Profile, smartcharging.Profile)
	gone := make(chan error, 1)
	ep.SetOnDisconnectedHandler(func(err error) {
		select {
		case gone <- fmt.Errorf("disconnected: %w", err):
		default:
		}
	})
	cp := ocpp16.NewChargePoint(s.cfg.ID, ep, wsc)
	l := &simLink{ctx: ctx, send: cp.SendRequestAsync}
	h := &sim16{s: s, l: l}
	cp.SetCoreHandler(h)
	cp.SetSmartChargingHandler(h)
	cp.SetRemoteTriggerHandler(h)
	if err := cp.Start(url); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	return s.session(ctx, gone, l, cp.Stop, h)
}

// sim16 is the simulator's OCPP 1.6 binding: it sends what the device
// logic asks and answers the central system's calls.
type sim16 struct {
	s *ChargePointSim
	l *simLink
	// stationSent: connector 0 was reported on this connection.
	stationSent bool
}

func (h *sim16) boot() error {
	s := h.s
	req := core.NewBootNotificationRequest(s.cfg.Model, s.cfg.Vendor)
	req.ChargePointSerialNumber, req.FirmwareVersion = s.cfg.Serial, s.cfg.Firmware
	conf, err := callAs[*core.BootNotificationConfirmation](h.l, req)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.boots++
	s.registered = conf.Status == core.RegistrationStatusAccepted
	if conf.Interval > 0 {
		s.heartbeat = time.Duration(conf.Interval) * time.Second
	}
	if s.registered {
		s.status = ""
	}
	return nil
}

func (h *sim16) status(st string) error {
	if !h.stationSent {
		if _, err := h.l.call(core.NewStatusNotificationRequest(0, core.NoError, core.ChargePointStatusAvailable)); err != nil {
			return err
		}
		h.stationSent = true
	}
	_, err := h.l.call(core.NewStatusNotificationRequest(1, core.NoError, core.ChargePointStatus(st)))
	return err
}

func (h *sim16) meter(trigger bool) error {
	samples, tx := h.s.samples()
	ctx := types.ReadingContextSamplePeriodic
	if trigger {
		ctx = types.ReadingContextTrigger
	}
	mv := types.MeterValue{Timestamp: types.NewDateTime(time.Now())}
	for _, sm := range samples {
		mv.SampledValue = append(mv.SampledValue, types.SampledValue{
			Value: strconv.FormatFloat(sm.value, 'f', -1, 64), Context: ctx, Measurand: types.Measurand(sm.measurand),
			Phase: types.Phase(sm.phase), Unit: types.UnitOfMeasure(sm.unit), Location: types.Location(sm.location)})
	}
	if len(mv.SampledValue) == 0 {
		return nil
	}
	req := core.NewMeterValuesRequest(1, []types.MeterValue{mv})
	if id, err := strconv.Atoi(tx); err == nil {
		req.TransactionId = &id
	}
	_, err := h.l.call(req)
	return err
}

func (h *sim16) heartbeat() error {
	_, err := h.l.call(core.NewHeartbeatRequest())
	return err
}

func (h *sim16) startTx(tag string) error {
	conf, err := callAs[*core.StartTransactionConfirmation](h.l,
		core.NewStartTransactionRequest(1, tag, int(h.s.meterWh()), types.NewDateTime(time.Now())))
	if err != nil {
		return err
	}
	id := strconv.Itoa(conf.TransactionId)
	if conf.IdTagInfo == nil || conf.IdTagInfo.Status != types.AuthorizationStatusAccepted {
		h.s.log.Info("ocpp sim: idTag not accepted; stopping the transaction", "id_tag", tag)
		req := core.NewStopTransactionRequest(int(h.s.meterWh()), types.NewDateTime(time.Now()), conf.TransactionId)
		req.Reason = core.ReasonDeAuthorized
		_, err := h.l.call(req)
		return err
	}
	h.s.txStarted(id)
	return nil
}

func (h *sim16) stopTx(reason string) error {
	h.s.mu.Lock()
	id, err := strconv.Atoi(h.s.tx)
	h.s.mu.Unlock()
	if err != nil {
		return nil
	}
	h.s.txStopped()
	req := core.NewStopTransactionRequest(int(h.s.meterWh()), types.NewDateTime(time.Now()), id)
	req.Reason = core.Reason(reason)
	_, err = h.l.call(req)
	return err
}

func (h *sim16) OnChangeAvailability(req *core.ChangeAvailabilityRequest) (*core.ChangeAvailabilityConfirmation, error) {
	s := h.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if req.Type == core.AvailabilityTypeOperative {
		s.available, s.goUnavailable = true, false
		return core.NewChangeAvailabilityConfirmation(core.AvailabilityStatusAccepted), nil
	}
	if s.tx != "" {
		s.goUnavailable = true
		return core.NewChangeAvailabilityConfirmation(core.AvailabilityStatusScheduled), nil
	}
	s.available = false
	return core.NewChangeAvailabilityConfirmation(core.AvailabilityStatusAccepted), nil
}

func (h *sim16) OnChangeConfiguration(req *core.ChangeConfigurationRequest) (*core.ChangeConfigurationConfirmation, error) {
	return core.NewChangeConfigurationConfirmation(core.ConfigurationStatus(h.s.changeConfig(req.Key, req.Value))), nil
}

func (h *sim16) OnClearCache(*core.ClearCacheRequest) (*core.ClearCacheConfirmation, error) {
	return core.NewClearCacheConfirmation(core.ClearCacheStatusAccepted), nil
}

func (h *sim16) OnDataTransfer(*core.DataTransferRequest) (*core.DataTransferConfirmation, error) {
	return core.NewDataTransferConfirmation(core.DataTransferStatusUnknownVendorId), nil
}

func (h *sim16) OnGetConfiguration(req *core.GetConfigurationRequest) (*core.GetConfigurationConfirmation, error) {
	all := h.s.configKeys()
	conf := core.NewGetConfigurationConfirmation(nil)
	add := func(k string, v [2]string) {
		val := v[0]
		conf.ConfigurationKey = append(conf.ConfigurationKey, core.ConfigurationKey{Key: k, Readonly: v[1] == "ro", Value: &val})
	}
	if len(req.Key) == 0 {
		for k, v := range all {
			add(k, v)
		}
		return conf, nil
	}
	for _, k := range req.Key {
		if v, ok := all[k]; ok {
			add(k, v)
		} else {
			conf.UnknownKey = append(conf.UnknownKey, k)
		}
	}
	return conf, nil
}

func (h *sim16) OnRemoteStartTransaction(req *core.RemoteStartTransactionRequest) (*core.RemoteStartTransactionConfirmation, error) {
	s := h.s
	s.mu.Lock()
	ok := s.plugged && s.tx == "" && s.available && (req.ConnectorId == nil || *req.ConnectorId == 1)
	s.mu.Unlock()
	if !ok {
		return core.NewRemoteStartTransactionConfirmation(types.RemoteStartStopStatusRejected), nil
	}
	tag := req.IdTag
	s.enqueue(func(p simProto) { _ = p.startTx(tag) })
	return core.NewRemoteStartTransactionConfirmation(types.RemoteStartStopStatusAccepted), nil
}

func (h *sim16) OnRemoteStopTransaction(req *core.RemoteStopTransactionRequest) (*core.RemoteStopTransactionConfirmation, error) {
	s := h.s
	s.mu.Lock()
	ok := s.tx != "" && s.tx == strconv.Itoa(req.TransactionId)
	s.mu.Unlock()
	if !ok {
		return core.NewRemoteStopTransactionConfirmation(types.RemoteStartStopStatusRejected), nil
	}
	s.enqueue(func(p simProto) { _ = p.stopTx(string(core.ReasonRemote)) })
	return core.NewRemoteStopTransactionConfirmation(types.RemoteStartStopStatusAccepted), nil
}

func (h *sim16) OnReset(req *core.ResetRequest) (*core.ResetConfirmation, error) {
	reason := core.ReasonSoftReset
	if req.Type == core.ResetTypeHard {
		reason = core.ReasonHardReset
	}
	h.s.enqueue(func(p simProto) { h.s.reboot(p, string(reason)) })
	return core.NewResetConfirmation(core.ResetStatusAccepted), nil
}

func (h *sim16) OnUnlockConnector(*core.UnlockConnectorRequest) (*core.UnlockConnectorConfirmation, error) {
	return core.NewUnlockConnectorConfirmation(core.UnlockStatusNotSupported), nil
}

func (h *sim16) OnSetChargingProfile(req *smartcharging.SetChargingProfileRequest) (*smartcharging.SetChargingProfileConfirmation, error) {
	cp := req.ChargingProfile
	if cp == nil || cp.ChargingSchedule == nil || len(cp.ChargingSchedule.ChargingSchedulePeriod) == 0 {
		return smartcharging.NewSetChargingProfileConfirmation(smartcharging.ChargingProfileStatusRejected), nil
	}
	period := cp.ChargingSchedule.ChargingSchedulePeriod[0]
	p := simProfile{purpose: string(cp.ChargingProfilePurpose), conn: req.ConnectorId}
	if cp.TransactionId != 0 {
		p.tx = strconv.Itoa(cp.TransactionId)
	}
	if period.NumberPhases != nil {
		p.phases = *period.NumberPhases
	}
	st := h.s.installProfile(p, period.Limit, cp.ChargingSchedule.ChargingRateUnit == types.ChargingRateUnitWatts)
	return smartcharging.NewSetChargingProfileConfirmation(smartcharging.ChargingProfileStatus(st)), nil
}

func (h *sim16) OnClearChargingProfile(req *smartcharging.ClearChargingProfileRequest) (*smartcharging.ClearChargingProfileConfirmation, error) {
	st := smartcharging.ClearChargingProfileStatusUnknown
	if h.s.clearProfiles(string(req.ChargingProfilePurpose)) {
		st = smartcharging.ClearChargingProfileStatusAccepted
	}
	return smartcharging.NewClearChargingProfileConfirmation(st), nil
}

func (h *sim16) OnGetCompositeSchedule(*smartcharging.GetCompositeScheduleRequest) (*smartcharging.GetCompositeScheduleConfirmation, error) {
	return smartcharging.NewGetCompositeScheduleConfirmation(smartcharging.GetCompositeScheduleStatusRejected), nil
}

func (h *sim16) OnTriggerMessage(req *remotetrigger.TriggerMessageRequest) (*remotetrigger.TriggerMessageConfirmation, error) {
	var job func(simProto)
	switch req.RequestedMessage {
	case core.BootNotificationFeatureName:
		job = func(p simProto) { _ = p.boot() }
	case core.StatusNotificationFeatureName:
		job = func(simProto) {
			h.s.mu.Lock()
			h.s.status = ""
			h.s.mu.Unlock()
			h.stationSent = false
		}
	case core.MeterValuesFeatureName:
		job = func(p simProto) { _ = p.meter(true) }
	case core.HeartbeatFeatureName:
		job = func(p simProto) { _ = p.heartbeat() }
	default:
		return remotetrigger.NewTriggerMessageConfirmation(remotetrigger.TriggerMessageStatusNotImplemented), nil
	}
	h.s.enqueue(job)
	return remotetrigger.NewTriggerMessageConfirmation(remotetrigger.TriggerMessageStatusAccepted), nil
}

// reboot ends the transaction, drops the connection and boots again.
func (s *ChargePointSim) reboot(p simProto, reason string) {
	_ = p.stopTx(reason)
	s.clearProfiles("TxProfile")
	s.mu.Lock()
	s.registered = false
	s.autoStarted = false // a car still plugged in is charged again
	s.mu.Unlock()
	s.Drop()
}

var (
	_ core.ChargePointHandler          = (*sim16)(nil)
	_ smartcharging.ChargePointHandler = (*sim16)(nil)
	_ remotetrigger.ChargePointHandler = (*sim16)(nil)
)
