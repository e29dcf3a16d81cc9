// Package all links every driver into the binary; each driver registers
// itself in its init. TestEveryDriverPackageLinked fails when a package
// under drivers/ registers something and is missing here.
package all

import (
	_ "github.com/evbridge/evbridge/drivers/abl"           // ABL eM4, Modbus TCP
	_ "github.com/evbridge/evbridge/drivers/ablemh"        // ABL eMH1/eMH2, SENEC Wallbox pro, Modbus ASCII via RS485 gateway
	_ "github.com/evbridge/evbridge/drivers/alfen"         // Alfen Eve NG9xx, Modbus TCP
	_ "github.com/evbridge/evbridge/drivers/generichttp"   // any charger with a JSON HTTP API, described in YAML
	_ "github.com/evbridge/evbridge/drivers/genericmodbus" // any Modbus TCP/RTU charger, described in YAML
	_ "github.com/evbridge/evbridge/drivers/goe"           // go-e Charger, HTTP API v2 and v1
	_ "github.com/evbridge/evbridge/drivers/heidelberg"    // Heidelberg Energy Control, Modbus RTU via gateway
	_ "github.com/evbridge/evbridge/drivers/httpmeter"     // meter: any JSON HTTP endpoint
	_ "github.com/evbridge/evbridge/drivers/keba"          // KEBA P20/P30 UDP
	_ "github.com/evbridge/evbridge/drivers/kebamodbus"    // KEBA P30/P40, Modbus TCP
	_ "github.com/evbridge/evbridge/drivers/mennekes"      // Mennekes AMTRON (HCC3, Bender), Modbus TCP
	_ "github.com/evbridge/evbridge/drivers/mqttmeter"     // meter: values from MQTT topics
	_ "github.com/evbridge/evbridge/drivers/ocpp"          // OCPP 1.6J / 2.0.1 central system
	_ "github.com/evbridge/evbridge/drivers/openevse"      // OpenEVSE WiFi gateway v4+, claims API
	_ "github.com/evbridge/evbridge/drivers/phoenix"       // Phoenix Contact EV-CC ETH / wallbe, Modbus TCP
	_ "github.com/evbridge/evbridge/drivers/quasar"        // Wallbox Quasar 1 (bidirectional DC), Modbus TCP
	_ "github.com/evbridge/evbridge/drivers/shelly"        // meter: Shelly Pro 3EM, Gen2 RPC
	_ "github.com/evbridge/evbridge/drivers/smaev"         // SMA EV Charger EVC7.4/EVC22, REST API fw ≥ 1.2.23
	_ "github.com/evbridge/evbridge/drivers/sunspec"       // meter: SunSpec inverters and meters, Modbus TCP
	_ "github.com/evbridge/evbridge/drivers/tesla"         // Tesla Wall Connector Gen 3, read-only
	_ "github.com/evbridge/evbridge/drivers/vestel"        // Vestel EVC04 / Webasto Unite, Modbus TCP
	_ "github.com/evbridge/evbridge/drivers/webastonext"   // Webasto Next, Modbus TCP
)
