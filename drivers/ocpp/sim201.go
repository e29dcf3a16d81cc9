package ocpp

import (
	"context"
	"fmt"
	"time"

	ocpp2 "github.com/lorenzodonini/ocpp-go/ocpp2.0.1"
	"github.com/lorenzodonini/ocpp-go/ocpp2.0.1/availability"
	"github.com/lorenzodonini/ocpp-go/ocpp2.0.1/meter"
	"github.com/lorenzodonini/ocpp-go/ocpp2.0.1/provisioning"
	"github.com/lorenzodonini/ocpp-go/ocpp2.0.1/remotecontrol"
	"github.com/lorenzodonini/ocpp-go/ocpp2.0.1/smartcharging"
	"github.com/lorenzodonini/ocpp-go/ocpp2.0.1/transactions"
	"github.com/lorenzodonini/ocpp-go/ocpp2.0.1/types"
	"github.com/lorenzodonini/ocpp-go/ocppj"
)

func (s *ChargePointSim) run201(ctx context.Context, url string) error {
	wsc := s.newWSClient()
	ep := ocppj.NewClient(s.cfg.ID, wsc, nil, nil, profiles201...)
	gone := make(chan error, 1)
	ep.SetOnDisconnectedHandler(func(err error) {
		select {
		case gone <- fmt.Errorf("disconnected: %w", err):
		default:
		}
	})
	st := ocpp2.NewChargingStation(s.cfg.ID, ep, wsc)
	l := &simLink{ctx: ctx, send: st.SendRequestAsync}
	h := &sim201{s: s, l: l}
	st.SetProvisioningHandler(h)
	st.SetSmartChargingHandler(h)
	st.SetRemoteControlHandler(h)
	st.SetAvailabilityHandler(h)
	if err := st.Start(url); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	return s.session(ctx, gone, l, st.Stop, h)
}

// sim201 is the simulator's OCPP 2.0.1 binding: one EVSE (id 1) with one
// connector. The device logic's 1.6 status is told as a connector status
// plus, during a transaction, its charging state.
type sim201 struct {
	s          *ChargePointSim
	l          *simLink
	connStatus string // last sent, "" forces a resend
	charging   string // last sent charging state of the transaction
	seq        int
	txN        int
}

var (
	connStatus201 = map[string]availability.ConnectorStatus{"Available": availability.ConnectorStatusAvailable,
		"Unavailable": availability.ConnectorStatusUnavailable, "Faulted": availability.ConnectorStatusFaulted,
		"Reserved": availability.ConnectorStatusReserved}
	chargingState201 = map[string]transactions.ChargingState{"Charging": transactions.ChargingStateCharging,
		"SuspendedEV": transactions.ChargingStateSuspendedEV, "SuspendedEVSE": transactions.ChargingStateSuspendedEVSE,
		"Preparing": transactions.ChargingStateEVConnected}
	stopReason201 = map[string]transactions.Reason{"EVDisconnected": transactions.ReasonEVDisconnected,
		"Remote": transactions.ReasonRemote, "SoftReset": transactions.ReasonImmediateReset,
		"HardReset": transactions.ReasonImmediateReset, "DeAuthorized": transactions.ReasonDeAuthorized}
)

func (h *sim201) boot() error {
	s := h.s
	req := provisioning.NewBootNotificationRequest(provisioning.BootReasonPowerUp, s.cfg.Model, s.cfg.Vendor)
	req.ChargingStation.SerialNumber, req.ChargingStation.FirmwareVersion = s.cfg.Serial, s.cfg.Firmware
	conf, err := callAs[*provisioning.BootNotificationResponse](h.l, req)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.boots++
	s.registered = conf.Status == provisioning.RegistrationStatusAccepted
	if conf.Interval > 0 {
		s.heartbeat = time.Duration(conf.Interval) * time.Second
	}
	if s.registered {
		s.status, h.connStatus = "", ""
	}
	return nil
}

func (h *sim201) status(st string) error {
	cst, ok := connStatus201[st]
	if !ok {
		cst = availability.ConnectorStatusOccupied
	}
	if string(cst) != h.connStatus {
		if _, err := h.l.call(availability.NewStatusNotificationRequest(types.NewDateTime(time.Now()), cst, 1, 1)); err != nil {
			return err
		}
		h.connStatus = string(cst)
	}
	h.s.mu.Lock()
	tx := h.s.tx
	h.s.mu.Unlock()
	chs, ok := chargingState201[st]
	if tx == "" || !ok || string(chs) == h.charging {
		return nil
	}
	h.seq++
	_, err := h.l.call(transactions.NewTransactionEventRequest(transactions.TransactionEventUpdated, types.NewDateTime(time.Now()),
		transactions.TriggerReasonChargingStateChanged, h.seq, transactions.Transaction{TransactionID: tx, ChargingState: chs}))
	if err == nil {
		h.charging = string(chs)
	}
	return err
}

func (h *sim201) meterValues(ctx types.ReadingContext, samples []simSample) []types.MeterValue {
	mv := types.MeterValue{Timestamp: *types.NewDateTime(time.Now())}
	for _, sm := range samples {
		mv.SampledValue = append(mv.SampledValue, types.SampledValue{Value: sm.value, Context: ctx,
			Measurand: types.Measurand(sm.measurand), Phase: types.Phase(sm.phase), Location: types.Location(sm.location),
			UnitOfMeasure: &types.UnitOfMeasure{Unit: sm.unit}})
	}
	return []types.MeterValue{mv}
}

func (h *sim201) meter(trigger bool) error {
	samples, tx := h.s.samples()
	if len(samples) == 0 {
		return nil
	}
	ctx, reason := types.ReadingContextSamplePeriodic, transactions.TriggerReasonMeterValuePeriodic
	if trigger {
		ctx, reason = types.ReadingContextTrigger, transactions.TriggerReasonTrigger
	}
	mvs := h.meterValues(ctx, samples)
	if tx == "" {
		_, err := h.l.call(meter.NewMeterValuesRequest(1, mvs))
		return err
	}
	h.seq++
	req := transactions.NewTransactionEventRequest(transactions.TransactionEventUpdated, types.NewDateTime(time.Now()), reason,
		h.seq, transactions.Transaction{TransactionID: tx})
	req.MeterValue = mvs
	_, err := h.l.call(req)
	return err
}

func (h *sim201) heartbeat() error {
	_, err := h.l.call(availability.NewHeartbeatRequest())
	return err
}

func (h *sim201) register(ctx types.ReadingContext) []types.MeterValue {
	return h.meterValues(ctx, []simSample{{"Energy.Active.Import.Register", "", "Wh", "Outlet", h.s.meterWh()}})
}

func (h *sim201) startTx(tag string) error {
	h.txN++
	id := fmt.Sprintf("%s-%d-%d", h.s.cfg.ID, time.Now().Unix(), h.txN)
	token := &types.IdToken{IdToken: tag, Type: types.IdTokenTypeISO14443}
	reason := transactions.TriggerReasonCablePluggedIn
	if tag == remoteIDTag {
		token.Type, reason = types.IdTokenTypeCentral, transactions.TriggerReasonRemoteStart
	}
	h.seq = 0
	req := transactions.NewTransactionEventRequest(transactions.TransactionEventStarted, types.NewDateTime(time.Now()), reason,
		h.seq, transactions.Transaction{TransactionID: id, ChargingState: transactions.ChargingStateEVConnected})
	one := 1
	req.IDToken, req.Evse, req.MeterValue = token, &types.EVSE{ID: 1, ConnectorID: &one}, h.register(types.ReadingContextTransactionBegin)
	conf, err := callAs[*transactions.TransactionEventResponse](h.l, req)
	if err != nil {
		return err
	}
	h.s.txStarted(id)
	h.charging = string(transactions.ChargingStateEVConnected)
	if conf.IDTokenInfo != nil && conf.IDTokenInfo.Status != types.AuthorizationStatusAccepted {
		h.s.log.Info("ocpp sim: idToken not accepted; ending the transaction", "id_token", tag)
		return h.stopTx("DeAuthorized")
	}
	return nil
}

func (h *sim201) stopTx(reason string) error {
	h.s.mu.Lock()
	id := h.s.tx
	h.s.mu.Unlock()
	if id == "" {
		return nil
	}
	h.s.txStopped()
	h.seq++
	why, ok := stopReason201[reason]
	if !ok {
		why = transactions.ReasonOther
	}
	req := transactions.NewTransactionEventRequest(transactions.TransactionEventEnded, types.NewDateTime(time.Now()),
		transactions.TriggerReasonEVCommunicationLost, h.seq, transactions.Transaction{TransactionID: id, StoppedReason: why})
	req.MeterValue = h.register(types.ReadingContextTransactionEnd)
	_, err := h.l.call(req)
	h.charging = ""
	return err
}

// Device model variables the simulator knows, as configuration keys.
var simVariables = map[[2]string]string{
	varTxInterval: "MeterValueSampleInterval", varTxMeasurands: "MeterValuesSampledData",
	varPhases3to1: "ConnectorSwitch3to1PhaseSupported", varRateUnit: "ChargingScheduleAllowedChargingRateUnit",
}

func (h *sim201) OnGetVariables(req *provisioning.GetVariablesRequest) (*provisioning.GetVariablesResponse, error) {
	keys := h.s.configKeys()
	res := make([]provisioning.GetVariableResult, 0, len(req.GetVariableData))
	for _, d := range req.GetVariableData {
		r := provisioning.GetVariableResult{AttributeStatus: provisioning.GetVariableStatusUnknownVariable,
			Component: d.Component, Variable: d.Variable}
		if key, ok := simVariables[[2]string{d.Component.Name, d.Variable.Name}]; ok {
			r.AttributeStatus, r.AttributeValue = provisioning.GetVariableStatusAccepted, keys[key][0]
			if key == "ChargingScheduleAllowedChargingRateUnit" {
				r.AttributeValue = "A"
			}
		}
		res = append(res, r)
	}
	return provisioning.NewGetVariablesResponse(res), nil
}

func (h *sim201) OnSetVariables(req *provisioning.SetVariablesRequest) (*provisioning.SetVariablesResponse, error) {
	res := make([]provisioning.SetVariableResult, 0, len(req.SetVariableData))
	for _, d := range req.SetVariableData {
		r := provisioning.SetVariableResult{AttributeStatus: provisioning.SetVariableStatusUnknownVariable,
			Component: d.Component, Variable: d.Variable}
		if key, ok := simVariables[[2]string{d.Component.Name, d.Variable.Name}]; ok {
			r.AttributeStatus = provisioning.SetVariableStatus(h.s.changeConfig(key, d.AttributeValue))
		}
		res = append(res, r)
	}
	return provisioning.NewSetVariablesResponse(res), nil
}

func (h *sim201) OnGetBaseReport(*provisioning.GetBaseReportRequest) (*provisioning.GetBaseReportResponse, error) {
	return provisioning.NewGetBaseReportResponse(types.GenericDeviceModelStatusNotSupported), nil
}

func (h *sim201) OnGetReport(*provisioning.GetReportRequest) (*provisioning.GetReportResponse, error) {
	return provisioning.NewGetReportResponse(types.GenericDeviceModelStatusNotSupported), nil
}

func (h *sim201) OnReset(*provisioning.ResetRequest) (*provisioning.ResetResponse, error) {
	h.s.enqueue(func(p simProto) { h.s.reboot(p, "SoftReset") })
	return provisioning.NewResetResponse(provisioning.ResetStatusAccepted), nil
}

func (h *sim201) OnSetNetworkProfile(*provisioning.SetNetworkProfileRequest) (*provisioning.SetNetworkProfileResponse, error) {
	return provisioning.NewSetNetworkProfileResponse(provisioning.SetNetworkProfileStatusRejected), nil
}

func (h *sim201) OnSetChargingProfile(req *smartcharging.SetChargingProfileRequest) (*smartcharging.SetChargingProfileResponse, error) {
	cp := req.ChargingProfile
	reject := smartcharging.NewSetChargingProfileResponse(smartcharging.ChargingProfileStatusRejected)
	if cp == nil || len(cp.ChargingSchedule) == 0 || len(cp.ChargingSchedule[0].ChargingSchedulePeriod) == 0 {
		return reject, nil
	}
	sched := cp.ChargingSchedule[0]
	period := sched.ChargingSchedulePeriod[0]
	purpose := string(cp.ChargingProfilePurpose)
	if cp.ChargingProfilePurpose == types.ChargingProfilePurposeChargingStationMaxProfile {
		purpose = "ChargePointMaxProfile"
	}
	p := simProfile{purpose: purpose, conn: req.EvseID, tx: cp.TransactionID}
	if period.NumberPhases != nil {
		p.phases = *period.NumberPhases
	}
	st := h.s.installProfile(p, period.Limit, sched.ChargingRateUnit == types.ChargingRateUnitWatts)
	return smartcharging.NewSetChargingProfileResponse(smartcharging.ChargingProfileStatus(st)), nil
}

func (h *sim201) OnClearChargingProfile(req *smartcharging.ClearChargingProfileRequest) (*smartcharging.ClearChargingProfileResponse, error) {
	purpose := ""
	if c := req.ChargingProfileCriteria; c != nil {
		purpose = string(c.ChargingProfilePurpose)
	}
	st := smartcharging.ClearChargingProfileStatusUnknown
	if h.s.clearProfiles(purpose) {
		st = smartcharging.ClearChargingProfileStatusAccepted
	}
	return smartcharging.NewClearChargingProfileResponse(st), nil
}

func (h *sim201) OnGetChargingProfiles(*smartcharging.GetChargingProfilesRequest) (*smartcharging.GetChargingProfilesResponse, error) {
	return smartcharging.NewGetChargingProfilesResponse(smartcharging.GetChargingProfileStatusNoProfiles), nil
}

func (h *sim201) OnGetCompositeSchedule(req *smartcharging.GetCompositeScheduleRequest) (*smartcharging.GetCompositeScheduleResponse, error) {
	return smartcharging.NewGetCompositeScheduleResponse(smartcharging.GetCompositeScheduleStatusRejected, req.EvseID), nil
}

func (h *sim201) OnRequestStartTransaction(req *remotecontrol.RequestStartTransactionRequest) (*remotecontrol.RequestStartTransactionResponse, error) {
	s := h.s
	s.mu.Lock()
	ok := s.plugged && s.tx == "" && s.available && (req.EvseID == nil || *req.EvseID == 1)
	s.mu.Unlock()
	if !ok {
		return remotecontrol.NewRequestStartTransactionResponse(remotecontrol.RequestStartStopStatusRejected), nil
	}
	tag := req.IDToken.IdToken
	s.enqueue(func(p simProto) { _ = p.startTx(tag) })
	return remotecontrol.NewRequestStartTransactionResponse(remotecontrol.RequestStartStopStatusAccepted), nil
}

func (h *sim201) OnRequestStopTransaction(req *remotecontrol.RequestStopTransactionRequest) (*remotecontrol.RequestStopTransactionResponse, error) {
	s := h.s
	s.mu.Lock()
	ok := s.tx != "" && s.tx == req.TransactionID
	s.mu.Unlock()
	if !ok {
		return remotecontrol.NewRequestStopTransactionResponse(remotecontrol.RequestStartStopStatusRejected), nil
	}
	s.enqueue(func(p simProto) { _ = p.stopTx("Remote") })
	return remotecontrol.NewRequestStopTransactionResponse(remotecontrol.RequestStartStopStatusAccepted), nil
}

func (h *sim201) OnTriggerMessage(req *remotecontrol.TriggerMessageRequest) (*remotecontrol.TriggerMessageResponse, error) {
	var job func(simProto)
	switch req.RequestedMessage {
	case remotecontrol.MessageTriggerBootNotification:
		job = func(p simProto) { _ = p.boot() }
	case remotecontrol.MessageTriggerStatusNotification:
		job = func(simProto) {
			h.s.mu.Lock()
			h.s.status = ""
			h.s.mu.Unlock()
			h.connStatus, h.charging = "", ""
		}
	case remotecontrol.MessageTriggerMeterValues, remotecontrol.MessageTriggerTransactionEvent:
		job = func(p simProto) { _ = p.meter(true) }
	case remotecontrol.MessageTriggerHeartbeat:
		job = func(p simProto) { _ = p.heartbeat() }
	default:
		return remotecontrol.NewTriggerMessageResponse(remotecontrol.TriggerMessageStatusNotImplemented), nil
	}
	h.s.enqueue(job)
	return remotecontrol.NewTriggerMessageResponse(remotecontrol.TriggerMessageStatusAccepted), nil
}

func (h *sim201) OnUnlockConnector(*remotecontrol.UnlockConnectorRequest) (*remotecontrol.UnlockConnectorResponse, error) {
	return remotecontrol.NewUnlockConnectorResponse(remotecontrol.UnlockStatusUnknownConnector), nil
}

func (h *sim201) OnChangeAvailability(req *availability.ChangeAvailabilityRequest) (*availability.ChangeAvailabilityResponse, error) {
	s := h.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if req.OperationalStatus == availability.OperationalStatusOperative {
		s.available, s.goUnavailable = true, false
		return availability.NewChangeAvailabilityResponse(availability.ChangeAvailabilityStatusAccepted), nil
	}
	if s.tx != "" {
		s.goUnavailable = true
		return availability.NewChangeAvailabilityResponse(availability.ChangeAvailabilityStatusScheduled), nil
	}
	s.available = false
	return availability.NewChangeAvailabilityResponse(availability.ChangeAvailabilityStatusAccepted), nil
}

var (
	_ provisioning.ChargingStationHandler  = (*sim201)(nil)
	_ smartcharging.ChargingStationHandler = (*sim201)(nil)
	_ remotecontrol.ChargingStationHandler = (*sim201)(nil)
	_ availability.ChargingStationHandler  = (*sim201)(nil)
)
