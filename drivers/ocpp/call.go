package ocpp

import (
	"context"
	"errors"
	"fmt"

	"github.com/evbridge/evbridge/bridge/charger"
	"github.com/lorenzodonini/ocpp-go/ocpp"
	"github.com/lorenzodonini/ocpp-go/ocppj"
)

// errTimedOut is the description the dispatcher cancels a call with.
const errTimedOut = "request timed out"

// await turns one of the library's asynchronous calls into a blocking one
// bounded by ctx. send is given the callback to pass to the library.
func await[T any](ctx context.Context, what string, send func(cb func(T, error)) error) (T, error) {
	type result struct {
		v   T
		err error
	}
	var zero T
	ch := make(chan result, 1)
	if err := send(func(v T, err error) { ch <- result{v, err} }); err != nil {
		return zero, fmt.Errorf("%s: %w: %v", what, ErrNotConnected, err)
	}
	select {
	case r := <-ch:
		if r.err != nil {
			return zero, fmt.Errorf("%s: %w", what, callError(r.err))
		}
		return r.v, nil
	case <-ctx.Done():
		return zero, fmt.Errorf("%s: %w", what, ctx.Err())
	}
}

// callError classifies what the library reports for a failed call.
func callError(err error) error {
	var oe *ocpp.Error
	if !errors.As(err, &oe) {
		return err
	}
	switch {
	case oe.Description == errTimedOut:
		return ErrNoAnswer
	case oe.Code == ocppj.GenericError && oe.MessageId == "":
		// The library fails queued calls so when the charge point leaves.
		return fmt.Errorf("%w: %s", ErrNotConnected, oe.Description)
	case oe.Code == ocppj.NotImplemented || oe.Code == ocppj.NotSupported:
		return fmt.Errorf("%w: %s %s", charger.ErrNotSupported, oe.Code, oe.Description)
	}
	return fmt.Errorf("%w: %s %s", charger.ErrRejected, oe.Code, oe.Description)
}

// statusError turns a confirmation's status into an error.
func statusError(what, status string) error {
	switch status {
	case "Accepted":
		return nil
	case "NotSupported", "NotImplemented":
		return fmt.Errorf("%s: %w (%s)", what, charger.ErrNotSupported, status)
	}
	return fmt.Errorf("%s: %w (%s)", what, charger.ErrRejected, status)
}

// setLimits sends a setpoint as a TxDefaultProfile (send with tx "") and,
// while a transaction runs, also as its TxProfile. Chargers read the spec
// differently (a default profile alone may or may not change a running
// transaction), so both are sent; one that refuses TxProfile is left to
// the default profile from then on.
func setLimits(ctx context.Context, cs *CentralSystem, s *Session, txID string, send func(ctx context.Context, tx string) error) error {
	if err := send(ctx, ""); err != nil {
		return fmt.Errorf("TxDefaultProfile: %w", err)
	}
	if txID == "" || s.capsNow().noTxProfile {
		return nil
	}
	err := send(ctx, txID)
	if errors.Is(err, charger.ErrRejected) || errors.Is(err, charger.ErrNotSupported) {
		s.mu.Lock()
		s.caps.noTxProfile = true
		s.mu.Unlock()
		cs.log.Info("charge point refuses transaction profiles; using the default profile only",
			"charge_point", s.id, "err", err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("TxProfile: %w", err)
	}
	return nil
}
