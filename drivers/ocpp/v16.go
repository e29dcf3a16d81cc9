package ocpp

import (
	"strconv"
	"strings"
	"sync"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/lorenzodonini/ocpp-go/ocpp"
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

// maxConnector bounds connector ids taken from a charge point, so a
// confused one cannot grow a session without limit.
const maxConnector = 64

// v16 is the OCPP 1.6J side of the central system: the library's central
// system over our endpoint and dispatcher, with the handlers below.
type v16 struct {
	cs  *CentralSystem
	api ocpp16.CentralSystem
}

func newV16(cs *CentralSystem, ep *endpoint) *v16 {
	var mu sync.RWMutex
	disp := newDispatcher(cs.cfg.CallTimeout)
	ep.lockClient = disp.lockClient
	srv := ocppj.NewServer(ep, disp, ocppj.NewServerState(&mu),
		core.Profile, localauth.Profile, firmware.Profile, reservation.Profile,
		remotetrigger.Profile, smartcharging.Profile)
	v := &v16{cs: cs}
	srv.SetInvalidMessageHook(func(_ ws.Channel, err *ocpp.Error, _ string, fields []any) *ocpp.Error {
		return remapError(err, fields, ocppj.FormatViolationV16)
	})
	v.api = ocpp16.NewCentralSystem(srv, ep)
	v.api.SetCoreHandler(v)
	v.api.SetFirmwareManagementHandler(v)
	v.api.SetNewChargePointHandler(func(ch ocpp16.ChargePointConnection) {
		l := &link16{v: v, id: ch.ID()}
		if c, ok := ch.(*wsConn); ok {
			c.link = l
		}
		l.s = cs.connected(ch.ID(), l, remoteOf(ch))
	})
	v.api.SetChargePointDisconnectedHandler(func(ch ocpp16.ChargePointConnection) {
		if c, ok := ch.(*wsConn); ok && c.link != nil {
			cs.disconnected(ch.ID(), c.link)
		}
	})
	return v
}

func (v *v16) start() { v.api.Start(0, "") }
func (v *v16) stop()  { v.api.Stop() }

// remapError corrects the library's CALLERROR codes where the spec says
// otherwise: an unknown action is NotImplemented (the library answers
// NotSupported), a wrong JSON type is a TypeConstraintViolation, and 1.6
// has no MessageTypeNotSupported.
func remapError(err *ocpp.Error, fields []any, formatViolation ocpp.ErrorCode) *ocpp.Error {
	switch {
	case err.Code == ocppj.NotSupported && len(fields) == 4:
		return ocpp.NewError(ocppj.NotImplemented, "unknown action "+describe(fields[2]), err.MessageId)
	case err.Code == ocppj.MessageTypeNotSupported && formatViolation == ocppj.FormatViolationV16:
		return ocpp.NewError(formatViolation, err.Description, err.MessageId)
	case err.Code == formatViolation && strings.Contains(err.Description, "cannot unmarshal"):
		return ocpp.NewError(ocppj.TypeConstraintViolation, err.Description, err.MessageId)
	}
	return nil
}

func describe(v any) string {
	s, ok := v.(string)
	if !ok {
		return "(not a string)"
	}
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return strconv.Quote(s)
}

func remoteOf(ch ws.Channel) string {
	if a := ch.RemoteAddr(); a != nil {
		return a.String()
	}
	return ""
}

func (v *v16) session(id string) *Session { return v.cs.reg.sessionOrNew(id) }

func (v *v16) OnBootNotification(id string, req *core.BootNotificationRequest) (*core.BootNotificationConfirmation, error) {
	serial := req.ChargePointSerialNumber
	if serial == "" {
		serial = req.ChargeBoxSerialNumber
	}
	ok, interval := v.cs.boot(id, charger.Identity{Brand: req.ChargePointVendor, Model: req.ChargePointModel,
		Serial: serial, Firmware: req.FirmwareVersion})
	status := core.RegistrationStatusPending
	if ok {
		status = core.RegistrationStatusAccepted
	}
	return core.NewBootNotificationConfirmation(types.NewDateTime(v.cs.now()), int(interval.Seconds()), status), nil
}

func (v *v16) OnHeartbeat(id string, _ *core.HeartbeatRequest) (*core.HeartbeatConfirmation, error) {
	v.session(id).seen(v.cs.now())
	return core.NewHeartbeatConfirmation(types.NewDateTime(v.cs.now())), nil
}

func (v *v16) OnStatusNotification(id string, req *core.StatusNotificationRequest) (*core.StatusNotificationConfirmation, error) {
	if req.ConnectorId > maxConnector {
		return nil, ocpp.NewHandlerError(ocppj.PropertyConstraintViolation, "connectorId too large")
	}
	info := req.Info
	if req.VendorErrorCode != "" {
		info = strings.TrimSpace(info + " (vendor error " + req.VendorId + " " + req.VendorErrorCode + ")")
	}
	v.cs.status(id, req.ConnectorId, string(req.Status), string(req.ErrorCode), info)
	return core.NewStatusNotificationConfirmation(), nil
}

func (v *v16) OnMeterValues(id string, req *core.MeterValuesRequest) (*core.MeterValuesConfirmation, error) {
	if req.ConnectorId > maxConnector {
		return nil, ocpp.NewHandlerError(ocppj.PropertyConstraintViolation, "connectorId too large")
	}
	tx := ""
	if req.TransactionId != nil {
		tx = strconv.Itoa(*req.TransactionId)
	}
	v.cs.meter(id, req.ConnectorId, tx, samples16(req.MeterValue))
	return core.NewMeterValuesConfirmation(), nil
}

func (v *v16) OnStartTransaction(id string, req *core.StartTransactionRequest) (*core.StartTransactionConfirmation, error) {
	if req.ConnectorId > maxConnector {
		return nil, ocpp.NewHandlerError(ocppj.PropertyConstraintViolation, "connectorId too large")
	}
	tx := v.cs.nextTxID()
	ok := v.cs.startTx(id, req.ConnectorId, strconv.FormatInt(tx, 10), req.IdTag, float64(req.MeterStart))
	return core.NewStartTransactionConfirmation(idTagInfo(ok), int(tx)), nil
}

func (v *v16) OnStopTransaction(id string, req *core.StopTransactionRequest) (*core.StopTransactionConfirmation, error) {
	v.cs.stopTx(id, strconv.Itoa(req.TransactionId), float64(req.MeterStop), string(req.Reason), samples16(req.TransactionData))
	conf := core.NewStopTransactionConfirmation()
	if req.IdTag != "" {
		conf.IdTagInfo = idTagInfo(v.cs.authorize(id, req.IdTag))
	}
	return conf, nil
}

func (v *v16) OnAuthorize(id string, req *core.AuthorizeRequest) (*core.AuthorizeConfirmation, error) {
	ok := v.cs.authorize(id, req.IdTag)
	v.cs.log.Info("authorize", "charge_point", id, "id_tag", req.IdTag, "accepted", ok)
	return core.NewAuthorizationConfirmation(idTagInfo(ok)), nil
}

func (v *v16) OnDataTransfer(id string, req *core.DataTransferRequest) (*core.DataTransferConfirmation, error) {
	v.cs.log.Info("data transfer ignored", "charge_point", id, "vendor", req.VendorId, "message_id", req.MessageId,
		"data", snippet([]byte(strings.TrimSpace(toString(req.Data)))))
	return core.NewDataTransferConfirmation(core.DataTransferStatusUnknownVendorId), nil
}

func (v *v16) OnDiagnosticsStatusNotification(id string, req *firmware.DiagnosticsStatusNotificationRequest) (*firmware.DiagnosticsStatusNotificationConfirmation, error) {
	v.cs.log.Info("diagnostics status", "charge_point", id, "status", req.Status)
	return firmware.NewDiagnosticsStatusNotificationConfirmation(), nil
}

func (v *v16) OnFirmwareStatusNotification(id string, req *firmware.FirmwareStatusNotificationRequest) (*firmware.FirmwareStatusNotificationConfirmation, error) {
	v.cs.log.Info("firmware status", "charge_point", id, "status", req.Status)
	return firmware.NewFirmwareStatusNotificationConfirmation(), nil
}

func idTagInfo(ok bool) *types.IdTagInfo {
	if ok {
		return types.NewIdTagInfo(types.AuthorizationStatusAccepted)
	}
	return types.NewIdTagInfo(types.AuthorizationStatusInvalid)
}

// samples16 flattens 1.6 meter values; each meter value is one group.
func samples16(mvs []types.MeterValue) [][]sample {
	out := make([][]sample, 0, len(mvs))
	for _, mv := range mvs {
		g := make([]sample, 0, len(mv.SampledValue))
		for _, sv := range mv.SampledValue {
			g = append(g, sample{value: sv.Value, measurand: string(sv.Measurand), phase: string(sv.Phase),
				unit: string(sv.Unit), location: string(sv.Location), format: string(sv.Format)})
		}
		out = append(out, g)
	}
	return out
}

var (
	_ core.CentralSystemHandler     = (*v16)(nil)
	_ firmware.CentralSystemHandler = (*v16)(nil)
)
