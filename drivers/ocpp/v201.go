package ocpp

import (
	"sync"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/lorenzodonini/ocpp-go/ocpp"
	ocpp2 "github.com/lorenzodonini/ocpp-go/ocpp2.0.1"
	"github.com/lorenzodonini/ocpp-go/ocpp2.0.1/authorization"
	"github.com/lorenzodonini/ocpp-go/ocpp2.0.1/availability"
	"github.com/lorenzodonini/ocpp-go/ocpp2.0.1/data"
	"github.com/lorenzodonini/ocpp-go/ocpp2.0.1/diagnostics"
	"github.com/lorenzodonini/ocpp-go/ocpp2.0.1/display"
	"github.com/lorenzodonini/ocpp-go/ocpp2.0.1/firmware"
	"github.com/lorenzodonini/ocpp-go/ocpp2.0.1/iso15118"
	"github.com/lorenzodonini/ocpp-go/ocpp2.0.1/localauth"
	"github.com/lorenzodonini/ocpp-go/ocpp2.0.1/meter"
	"github.com/lorenzodonini/ocpp-go/ocpp2.0.1/provisioning"
	"github.com/lorenzodonini/ocpp-go/ocpp2.0.1/remotecontrol"
	"github.com/lorenzodonini/ocpp-go/ocpp2.0.1/reservation"
	"github.com/lorenzodonini/ocpp-go/ocpp2.0.1/security"
	"github.com/lorenzodonini/ocpp-go/ocpp2.0.1/smartcharging"
	"github.com/lorenzodonini/ocpp-go/ocpp2.0.1/tariffcost"
	"github.com/lorenzodonini/ocpp-go/ocpp2.0.1/transactions"
	"github.com/lorenzodonini/ocpp-go/ocpp2.0.1/types"
	"github.com/lorenzodonini/ocpp-go/ocppj"
	"github.com/lorenzodonini/ocpp-go/ws"
)

// profiles201 are every OCPP 2.0.1 functional block: actions the central
// system does not handle are then NotSupported, unknown ones NotImplemented.
var profiles201 = []*ocpp.Profile{authorization.Profile, availability.Profile, data.Profile,
	diagnostics.Profile, display.Profile, firmware.Profile, iso15118.Profile, localauth.Profile,
	meter.Profile, provisioning.Profile, remotecontrol.Profile, reservation.Profile, security.Profile,
	smartcharging.Profile, tariffcost.Profile, transactions.Profile}

// v201 is the OCPP 2.0.1 side of the central system. An EVSE is what a
// charger entry's connector option names. Its status is the 1.6 status
// derived from the connector status (StatusNotification) and the
// transaction's charging state (TransactionEvent).
type v201 struct {
	cs  *CentralSystem
	api ocpp2.CSMS
}

func newV201(cs *CentralSystem, ep *endpoint) *v201 {
	var mu sync.RWMutex
	disp := newDispatcher(cs.cfg.CallTimeout)
	ep.lockClient = disp.lockClient
	srv := ocppj.NewServer(ep, disp, ocppj.NewServerState(&mu), profiles201...)
	srv.SetInvalidMessageHook(func(_ ws.Channel, err *ocpp.Error, _ string, fields []any) *ocpp.Error {
		return remapError(err, fields, ocppj.FormatViolationV2)
	})
	v := &v201{cs: cs, api: ocpp2.NewCSMS(srv, ep)}
	v.api.SetProvisioningHandler(v)
	v.api.SetAvailabilityHandler(v)
	v.api.SetTransactionsHandler(v)
	v.api.SetMeterHandler(v)
	v.api.SetAuthorizationHandler(v)
	v.api.SetDataHandler(v)
	v.api.SetSecurityHandler(v)
	v.api.SetFirmwareHandler(v)
	v.api.SetDiagnosticsHandler(v)
	v.api.SetNewChargingStationHandler(func(ch ocpp2.ChargingStationConnection) {
		l := &link201{v: v, id: ch.ID()}
		if c, ok := ch.(*wsConn); ok {
			c.link = l
		}
		l.s = cs.connected(ch.ID(), l, remoteOf(ch))
	})
	v.api.SetChargingStationDisconnectedHandler(func(ch ocpp2.ChargingStationConnection) {
		if c, ok := ch.(*wsConn); ok && c.link != nil {
			cs.disconnected(ch.ID(), c.link)
		}
	})
	return v
}

func (v *v201) start() { v.api.Start(0, "") }
func (v *v201) stop()  { v.api.Stop() }

// status201 derives the 1.6 status of an EVSE.
func status201(connStatus, chargingState string) string {
	switch connStatus {
	case "Available", "Reserved", "Unavailable", "Faulted":
		return connStatus
	}
	switch chargingState {
	case "Charging", "SuspendedEV", "SuspendedEVSE":
		return chargingState
	}
	if connStatus == "Occupied" {
		return "Preparing"
	}
	return ""
}

// evse201 updates an EVSE's 2.0.1 state and reports the derived status.
func (v *v201) evse201(id string, evse int, connStatus, chargingState *string) {
	s := v.cs.reg.sessionOrNew(id)
	s.mu.Lock()
	c := s.connector(evse)
	if connStatus != nil {
		c.conn201 = *connStatus
	}
	if chargingState != nil {
		c.charging201 = *chargingState
	}
	st := status201(c.conn201, c.charging201)
	s.mu.Unlock()
	if st != "" {
		v.cs.status(id, evse, st, "", "")
	}
}

func (v *v201) OnBootNotification(id string, req *provisioning.BootNotificationRequest) (*provisioning.BootNotificationResponse, error) {
	st := req.ChargingStation
	ok, interval := v.cs.boot(id, charger.Identity{Brand: st.VendorName, Model: st.Model, Serial: st.SerialNumber,
		Firmware: st.FirmwareVersion})
	status := provisioning.RegistrationStatusPending
	if ok {
		status = provisioning.RegistrationStatusAccepted
	}
	return provisioning.NewBootNotificationResponse(types.NewDateTime(v.cs.now()), int(interval.Seconds()), status), nil
}

func (v *v201) OnNotifyReport(string, *provisioning.NotifyReportRequest) (*provisioning.NotifyReportResponse, error) {
	return provisioning.NewNotifyReportResponse(), nil
}

func (v *v201) OnHeartbeat(id string, _ *availability.HeartbeatRequest) (*availability.HeartbeatResponse, error) {
	v.cs.reg.sessionOrNew(id).seen(v.cs.now())
	return availability.NewHeartbeatResponse(*types.NewDateTime(v.cs.now())), nil
}

func (v *v201) OnStatusNotification(id string, req *availability.StatusNotificationRequest) (*availability.StatusNotificationResponse, error) {
	if req.EvseID > maxConnector {
		return nil, ocpp.NewHandlerError(ocppj.PropertyConstraintViolation, "evseId too large")
	}
	st := string(req.ConnectorStatus)
	v.evse201(id, req.EvseID, &st, nil)
	return availability.NewStatusNotificationResponse(), nil
}

func (v *v201) OnTransactionEvent(id string, req *transactions.TransactionEventRequest) (*transactions.TransactionEventResponse, error) {
	tx := req.TransactionInfo.TransactionID
	evse := v.evseOf(id, tx, req.Evse)
	if evse > maxConnector {
		return nil, ocpp.NewHandlerError(ocppj.PropertyConstraintViolation, "evse id too large")
	}
	groups := samples201(req.MeterValue)
	resp := transactions.NewTransactionEventResponse()
	switch req.EventType {
	case transactions.TransactionEventStarted:
		tag := ""
		if req.IDToken != nil {
			tag = req.IDToken.IdToken
		}
		ok := v.cs.startTx(id, evse, tx, tag, registerWh(groups))
		if req.IDToken != nil {
			resp.IDTokenInfo = idTokenInfo(ok)
		}
		v.cs.meter(id, evse, tx, groups)
	case transactions.TransactionEventEnded:
		v.cs.stopTx(id, tx, registerWh(groups), string(req.TransactionInfo.StoppedReason), groups)
		idle := "Idle"
		v.evse201(id, evse, nil, &idle)
		return resp, nil
	default:
		v.cs.meter(id, evse, tx, groups)
		if req.IDToken != nil {
			resp.IDTokenInfo = idTokenInfo(v.cs.authorize(id, req.IDToken.IdToken))
		}
	}
	if cs := string(req.TransactionInfo.ChargingState); cs != "" {
		v.evse201(id, evse, nil, &cs)
	}
	return resp, nil
}

// evseOf finds the EVSE of a transaction: named in the event, or known
// from its start (later events may leave it out).
func (v *v201) evseOf(id, tx string, e *types.EVSE) int {
	if e != nil && e.ID > 0 {
		return e.ID
	}
	s := v.cs.reg.sessionOrNew(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	for n, c := range s.conns {
		if c.tx != nil && c.tx.id == tx {
			return n
		}
	}
	return 1
}

func (v *v201) OnMeterValues(id string, req *meter.MeterValuesRequest) (*meter.MeterValuesResponse, error) {
	if req.EvseID > maxConnector {
		return nil, ocpp.NewHandlerError(ocppj.PropertyConstraintViolation, "evseId too large")
	}
	v.cs.meter(id, req.EvseID, "", samples201(req.MeterValue))
	return meter.NewMeterValuesResponse(), nil
}

func (v *v201) OnAuthorize(id string, req *authorization.AuthorizeRequest) (*authorization.AuthorizeResponse, error) {
	ok := v.cs.authorize(id, req.IdToken.IdToken)
	v.cs.log.Info("authorize", "charge_point", id, "id_tag", req.IdToken.IdToken, "accepted", ok)
	return authorization.NewAuthorizationResponse(*idTokenInfo(ok)), nil
}

func (v *v201) OnDataTransfer(id string, req *data.DataTransferRequest) (*data.DataTransferResponse, error) {
	v.cs.log.Info("data transfer ignored", "charge_point", id, "vendor", req.VendorID, "message_id", req.MessageID,
		"data", snippet([]byte(toString(req.Data))))
	return data.NewDataTransferResponse(data.DataTransferStatusUnknownVendorId), nil
}

func (v *v201) OnSecurityEventNotification(id string, req *security.SecurityEventNotificationRequest) (*security.SecurityEventNotificationResponse, error) {
	v.cs.log.Info("security event", "charge_point", id, "type", req.Type, "info", req.TechInfo)
	return security.NewSecurityEventNotificationResponse(), nil
}

func (v *v201) OnSignCertificate(string, *security.SignCertificateRequest) (*security.SignCertificateResponse, error) {
	return security.NewSignCertificateResponse(types.GenericStatusRejected), nil
}

func (v *v201) OnFirmwareStatusNotification(id string, req *firmware.FirmwareStatusNotificationRequest) (*firmware.FirmwareStatusNotificationResponse, error) {
	v.cs.log.Info("firmware status", "charge_point", id, "status", req.Status)
	return firmware.NewFirmwareStatusNotificationResponse(), nil
}

func (v *v201) OnPublishFirmwareStatusNotification(string, *firmware.PublishFirmwareStatusNotificationRequest) (*firmware.PublishFirmwareStatusNotificationResponse, error) {
	return firmware.NewPublishFirmwareStatusNotificationResponse(), nil
}

func (v *v201) OnLogStatusNotification(string, *diagnostics.LogStatusNotificationRequest) (*diagnostics.LogStatusNotificationResponse, error) {
	return diagnostics.NewLogStatusNotificationResponse(), nil
}

func (v *v201) OnNotifyCustomerInformation(string, *diagnostics.NotifyCustomerInformationRequest) (*diagnostics.NotifyCustomerInformationResponse, error) {
	return diagnostics.NewNotifyCustomerInformationResponse(), nil
}

func (v *v201) OnNotifyEvent(id string, req *diagnostics.NotifyEventRequest) (*diagnostics.NotifyEventResponse, error) {
	v.cs.log.Debug("notify event", "charge_point", id, "events", len(req.EventData))
	return diagnostics.NewNotifyEventResponse(), nil
}

func (v *v201) OnNotifyMonitoringReport(string, *diagnostics.NotifyMonitoringReportRequest) (*diagnostics.NotifyMonitoringReportResponse, error) {
	return diagnostics.NewNotifyMonitoringReportResponse(), nil
}

func idTokenInfo(ok bool) *types.IdTokenInfo {
	if ok {
		return types.NewIdTokenInfo(types.AuthorizationStatusAccepted)
	}
	return types.NewIdTokenInfo(types.AuthorizationStatusInvalid)
}

// samples201 flattens 2.0.1 meter values; each meter value is one group.
func samples201(mvs []types.MeterValue) [][]sample {
	out := make([][]sample, 0, len(mvs))
	for _, mv := range mvs {
		g := make([]sample, 0, len(mv.SampledValue))
		for _, sv := range mv.SampledValue {
			sm := sample{number: sv.Value, isNumber: true, measurand: string(sv.Measurand), phase: string(sv.Phase),
				location: string(sv.Location)}
			if sv.UnitOfMeasure != nil {
				sm.unit = sv.UnitOfMeasure.Unit
				if sv.UnitOfMeasure.Multiplier != nil {
					sm.multiplier = *sv.UnitOfMeasure.Multiplier
				}
			}
			if sv.SignedMeterValue != nil {
				sm.format = "SignedData"
			}
			g = append(g, sm)
		}
		out = append(out, g)
	}
	return out
}

// registerWh is the energy register in groups, or -1 when none is there.
func registerWh(groups [][]sample) float64 {
	var m meterState
	for _, g := range groups {
		m.applySamples(g, m.at)
	}
	if m.energyWh == nil {
		return -1
	}
	return *m.energyWh
}

var (
	_ provisioning.CSMSHandler  = (*v201)(nil)
	_ availability.CSMSHandler  = (*v201)(nil)
	_ transactions.CSMSHandler  = (*v201)(nil)
	_ meter.CSMSHandler         = (*v201)(nil)
	_ authorization.CSMSHandler = (*v201)(nil)
	_ data.CSMSHandler          = (*v201)(nil)
	_ security.CSMSHandler      = (*v201)(nil)
	_ firmware.CSMSHandler      = (*v201)(nil)
	_ diagnostics.CSMSHandler   = (*v201)(nil)
)
