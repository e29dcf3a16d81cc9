// Package all links every driver into the binary; each driver registers
// itself in its init.
package all

import (
	_ "github.com/evbridge/evbridge/drivers/abl"         // ABL eM4, Modbus TCP
	_ "github.com/evbridge/evbridge/drivers/alfen"       // Alfen Eve NG9xx, Modbus TCP
	_ "github.com/evbridge/evbridge/drivers/goe"         // go-e Charger, HTTP API v2
	_ "github.com/evbridge/evbridge/drivers/heidelberg"  // Heidelberg Energy Control, Modbus RTU via gateway
	_ "github.com/evbridge/evbridge/drivers/kebamodbus"  // KEBA P30/P40, Modbus TCP
	_ "github.com/evbridge/evbridge/drivers/mennekes"    // Mennekes AMTRON (HCC3, Bender), Modbus TCP
	_ "github.com/evbridge/evbridge/drivers/openevse"    // OpenEVSE WiFi gateway v4+, claims API
	_ "github.com/evbridge/evbridge/drivers/phoenix"     // Phoenix Contact EV-CC ETH / wallbe, Modbus TCP
	_ "github.com/evbridge/evbridge/drivers/tesla"       // Tesla Wall Connector Gen 3, read-only
	_ "github.com/evbridge/evbridge/drivers/vestel"      // Vestel EVC04 / Webasto Unite, Modbus TCP
	_ "github.com/evbridge/evbridge/drivers/webastonext" // Webasto Next, Modbus TCP
)
