// Package all links every driver into the binary; each driver registers
// itself in its init.
package all

import (
	_ "github.com/evbridge/evbridge/drivers/alfen" // Alfen Eve NG9xx, Modbus TCP
	_ "github.com/evbridge/evbridge/drivers/goe"   // go-e Charger, HTTP API v2
)
