package modbusx

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/simonvetter/modbus"
)

// Exception is a Modbus exception code a device answered with. The
// exported Err* exception values are sentinels: compare with errors.Is.
type Exception struct {
	Code byte
	name string
	// like is the charger contract error this exception also counts as,
	// so the core can classify it without knowing Modbus.
	like error
}

func (e *Exception) Error() string { return fmt.Sprintf("%s (exception %d)", e.name, e.Code) }

// Is reports whether target is ErrException or the charger error this
// exception counts as.
func (e *Exception) Is(target error) bool {
	return target == ErrException || (e.like != nil && target == e.like)
}

// Modbus exceptions (Modbus Application Protocol v1.1b3 §7).
var (
	ErrIllegalFunction = &Exception{Code: 1, name: "illegal function", like: charger.ErrNotSupported}
	ErrIllegalAddress  = &Exception{Code: 2, name: "illegal data address"}
	ErrIllegalValue    = &Exception{Code: 3, name: "illegal data value", like: charger.ErrRejected}
	ErrDeviceFailure   = &Exception{Code: 4, name: "server device failure"}
	ErrAcknowledge     = &Exception{Code: 5, name: "acknowledge (request still running)"}
	ErrDeviceBusy      = &Exception{Code: 6, name: "server device busy"}
	ErrMemoryParity    = &Exception{Code: 8, name: "memory parity error"}
	ErrGatewayPath     = &Exception{Code: 10, name: "gateway path unavailable"}
	ErrGatewayTarget   = &Exception{Code: 11, name: "gateway target device failed to respond"}
)

// Errors of the link and of decoding. Every error a Client returns is an
// *Error wrapping one of these or an exception.
var (
	// ErrException matches every Modbus exception.
	ErrException = errors.New("modbus exception")
	// ErrTimeout: the device did not answer within the request timeout.
	ErrTimeout = errors.New("no reply before the timeout")
	// ErrBadFrame: the peer answered something that is not a Modbus reply
	// for this request (wrong service on the port, wrong unit, garbage).
	ErrBadFrame = &linkError{"reply is not a valid modbus frame (is this a modbus device?)", charger.ErrBadReply}
	// ErrConnection: the TCP connection failed or was closed by the peer.
	ErrConnection = errors.New("connection lost")
	// ErrUnreachable: no connection could be opened (it is retried with
	// backoff).
	ErrUnreachable = errors.New("cannot connect")
	// ErrClosed: the Client was closed.
	ErrClosed = errors.New("client closed")
	// ErrBadRequest: the request itself is invalid (a driver bug).
	ErrBadRequest = errors.New("invalid request")

	// ErrNotRead: a value was asked of a Block that does not hold it.
	ErrNotRead = errors.New("registers not in the block")
	// ErrWordCount: the registers do not fit the type's size.
	ErrWordCount = &linkError{"wrong number of registers for the type", charger.ErrBadReply}
	// ErrNaN and ErrInf: a float register holds NaN or ±Inf; many devices
	// use NaN for "not available".
	ErrNaN = errors.New("value is NaN (not available)")
	ErrInf = errors.New("value is infinite")
	// ErrRange: an integer does not fit the asked Go type.
	ErrRange = errors.New("value out of range")
	// ErrType: the Value's type does not suit the getter.
	ErrType = errors.New("unsupported type for this getter")
)

// linkError is a sentinel that also counts as a charger contract error.
type linkError struct {
	msg  string
	like error
}

func (e *linkError) Error() string        { return e.msg }
func (e *linkError) Is(target error) bool { return target == e.like }

// Error is what every Client call returns on failure: where, what, and why.
type Error struct {
	Endpoint string // host:port
	Unit     uint8
	Op       string // "read holding", "write"...
	Addr     uint16
	Count    uint16
	Kind     error // a sentinel above or an *Exception
	Err      error // the cause underneath Kind, if any
}

func (e *Error) Error() string {
	s := fmt.Sprintf("modbus %s unit %d: %s %d", e.Endpoint, e.Unit, e.Op, e.Addr)
	if e.Count > 1 {
		s += fmt.Sprintf("..%d", int(e.Addr)+int(e.Count)-1)
	}
	s += ": " + e.Kind.Error()
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap exposes both the kind and the cause to errors.Is and errors.As.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

// classify maps an error of the modbus library to a kind, and tells
// whether the connection must be dropped.
func classify(err error) (kind, cause error, drop bool) {
	var me modbus.Error
	if errors.As(err, &me) {
		switch me {
		case modbus.ErrIllegalFunction:
			return ErrIllegalFunction, nil, false
		case modbus.ErrIllegalDataAddress:
			return ErrIllegalAddress, nil, false
		case modbus.ErrIllegalDataValue:
			return ErrIllegalValue, nil, false
		case modbus.ErrServerDeviceFailure:
			return ErrDeviceFailure, nil, false
		case modbus.ErrAcknowledge:
			return ErrAcknowledge, nil, false
		case modbus.ErrServerDeviceBusy:
			return ErrDeviceBusy, nil, false
		case modbus.ErrMemoryParityError:
			return ErrMemoryParity, nil, false
		case modbus.ErrGWPathUnavailable:
			return ErrGatewayPath, nil, false
		case modbus.ErrGWTargetFailedToRespond:
			return ErrGatewayTarget, nil, false
		case modbus.ErrRequestTimedOut:
			return ErrTimeout, nil, true
		case modbus.ErrUnexpectedParameters, modbus.ErrConfigurationError:
			return ErrBadRequest, err, false
		default: // protocol error, bad CRC, bad unit id, short frame...
			return ErrBadFrame, err, true
		}
	}
	if os.IsTimeout(err) {
		return ErrTimeout, nil, true
	}
	// The library reports a non-standard exception code as a plain
	// error; the frame was valid, so keep the connection.
	if strings.HasPrefix(err.Error(), "unknown exception code") {
		return ErrException, err, false
	}
	return ErrConnection, err, true
}

// peerClosed tells an error from a connection the peer closed while it
// sat idle: a read on it is worth one retry on a fresh connection.
func peerClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, net.ErrClosed)
}
