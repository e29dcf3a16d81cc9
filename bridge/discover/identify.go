package discover

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/evbridge/evbridge/bridge/charger"
)

// Identify reads the identity of the device at a static address (host or
// host:port) with the fingerprinters of driver, or with every registered
// fingerprinter when driver is "". Without a port each fingerprinter uses
// its own. The result's FoundBy is ByStatic.
func Identify(ctx context.Context, driver, address string, opts Options) (Found, error) {
	o := opts.withDefaults()
	host, port, err := splitHostPort(address)
	if err != nil {
		return Found{}, err
	}
	fps := o.Registry.All()
	switch {
	case driver != "":
		fps = o.Registry.ForDriver(driver)
		if len(fps) == 0 {
			return Found{}, fmt.Errorf("identify %s: no fingerprinter for driver %q", address, driver)
		}
	case port != 0:
		fps = o.Registry.ForPort(port)
	}
	hc := newHTTPClient(o)
	defer hc.CloseIdleConnections()
	f, err := firstMatch(ctx, o, hc, fps, host, port)
	if err != nil {
		return Found{}, fmt.Errorf("identify %s: %w", address, err)
	}
	f.FoundBy = ByStatic
	return f, nil
}

// firstMatch tries fps in order at host (on port, or each one's own port
// when port is 0) and returns the first identity. It gives up at once
// on a port that refused the connection or did not answer in time: it
// will not go better for the next fingerprinter.
func firstMatch(ctx context.Context, o Options, hc *http.Client, fps []Fingerprinter, host string, port int) (Found, error) {
	var errs []error
	dead := map[int]bool{}
	for _, fp := range fps {
		p := port
		if p == 0 {
			p = fp.Port
		}
		if dead[p] {
			continue
		}
		hostport := net.JoinHostPort(host, strconv.Itoa(p))
		id, err := fingerprint(ctx, o, hc, fp, hostport)
		if err == nil {
			return found(fp, hostport, id), nil
		}
		if ctx.Err() != nil {
			return Found{}, ctx.Err()
		}
		o.Logger.Debug("fingerprint did not match", "addr", hostport, "driver", fp.Driver, "err", err)
		errs = append(errs, fmt.Errorf("%s: %w", fp.Driver, err))
		if isConnectError(err) || isTimeout(err) {
			dead[p] = true
		}
	}
	if len(errs) == 0 {
		return Found{}, fmt.Errorf("%w: no fingerprinter to try", ErrNotIdentified)
	}
	return Found{}, fmt.Errorf("%w: %w", ErrNotIdentified, errors.Join(errs...))
}

// fingerprint runs one fingerprinter against hostport and checks what it
// returned.
func fingerprint(ctx context.Context, o Options, hc *http.Client, fp Fingerprinter, hostport string) (id charger.Identity, err error) {
	defer func() {
		// A fingerprinter is code reading untrusted replies; a bug in one
		// must not take the daemon down.
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: fingerprinter %s panicked: %v", ErrNotIdentified, fp.Driver, r)
		}
	}()
	if fp.HTTP != nil {
		id, err = fp.HTTP(ctx, httpGetter(hc, hostport, o.ConnTimeout))
	} else {
		var mc *mbConn
		if mc, err = dialModbus(ctx, o, hostport); err != nil {
			return id, err
		}
		defer mc.Close()
		id, err = fp.Modbus(ctx, mc)
	}
	if err != nil {
		return id, err
	}
	id = cleanIdentity(id)
	if id.Serial == "" {
		return id, fmt.Errorf("%w: %s fingerprint returned no serial", ErrNotIdentified, fp.Driver)
	}
	return id, nil
}

// found builds the report of an identified device.
func found(fp Fingerprinter, hostport string, id charger.Identity) Found {
	brand := id.Brand
	if brand == "" {
		brand = fp.Brand
	}
	return Found{Address: hostport, Driver: fp.Driver, Brand: brand, Model: id.Model,
		Serial: id.Serial, Firmware: id.Firmware, Kind: fp.Kind}
}

// isConnectError reports whether err means the connection never opened.
func isConnectError(err error) bool {
	var ce *connectError
	return errors.As(err, &ce)
}

// isTimeout reports whether err is a timeout: a port that took the
// connection but did not answer in time will not answer the next
// fingerprinter either.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// splitHostPort accepts host, host:port, [v6] and [v6]:port; port is 0
// when absent.
func splitHostPort(address string) (host string, port int, err error) {
	address = strings.TrimSpace(address)
	if h, p, e := net.SplitHostPort(address); e == nil {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return "", 0, fmt.Errorf("address %q: bad port", address)
		}
		host, port = h, n
	} else {
		host = strings.TrimSuffix(strings.TrimPrefix(address, "["), "]")
	}
	if host == "" || strings.ContainsAny(host, " /?#@") {
		return "", 0, fmt.Errorf("address %q: bad host", address)
	}
	return host, port, nil
}
