package config

import (
	"fmt"
	"net/netip"
	"time"
)

// Discovery controls how evbridge finds chargers by itself.
type Discovery struct {
	// MDNS browses for chargers that announce themselves (mDNS does not
	// cross VLANs or routers: configure those chargers by address).
	MDNS bool `yaml:"mdns"`
	// Subnets are probed actively (TCP 80 and 502) for chargers, e.g.
	// 192.0.2.0/24. Nothing is probed unless listed here.
	Subnets []string `yaml:"subnets"`
	// MaxPrefix is the largest subnet accepted, as a prefix length: 22
	// allows at most 1024 addresses.
	MaxPrefix int `yaml:"max_prefix"`
	// Interval is how often evbridge looks again.
	Interval time.Duration `yaml:"interval"`
	// Found says what happens to a newly found charger: pending (shown on
	// MQTT and in Home Assistant until accepted) or add (added at once).
	Found string `yaml:"found"`
}

// Discovery defaults.
const (
	DefaultDiscoveryInterval = 5 * time.Minute
	DefaultMaxPrefix         = 22
	DiscoveryPending         = "pending"
	DiscoveryAdd             = "add"
)

func defaultDiscovery() Discovery {
	return Discovery{MDNS: true, Subnets: []string{}, MaxPrefix: DefaultMaxPrefix, Interval: DefaultDiscoveryInterval, Found: DiscoveryPending}
}

func (d *decoder) validateDiscovery(c *Discovery) {
	if c.MaxPrefix < 8 || c.MaxPrefix > 32 {
		d.invalid("discovery.max_prefix", "must be between 8 and 32, got %d", c.MaxPrefix)
	}
	for i, s := range c.Subnets {
		p, err := netip.ParsePrefix(s)
		path := fmt.Sprintf("discovery.subnets[%d]", i)
		switch {
		case err != nil:
			d.invalid(path, "expected a subnet such as 192.0.2.0/24, got %q", s)
		case p.Addr().Is4() && p.Bits() < c.MaxPrefix:
			d.invalid(path, "%s has %d addresses; probing is limited to /%d (raise max_prefix to allow it)", s, 1<<(32-p.Bits()), c.MaxPrefix)
		case p.Addr().Is6() && p.Bits() < 128-(32-c.MaxPrefix):
			d.invalid(path, "%s is too large to probe; limit is %d addresses", s, 1<<(32-c.MaxPrefix))
		}
	}
	if c.Interval < 10*time.Second {
		d.invalid("discovery.interval", "must be at least 10s, got %s", c.Interval)
	}
	c.Found = d.oneOf("discovery.found", c.Found, DiscoveryPending, DiscoveryAdd)
}
