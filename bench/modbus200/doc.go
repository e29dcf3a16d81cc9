// Package modbus200 measures evbridge with 200 simulated Modbus chargers
// on loopback, polled every 2 s: the bridge's CPU share of one core, its
// RSS and the Modbus requests per poll, with the built-in alfen driver and
// with the generic_modbus definition of the same charger. It is all in
// its benchmark (see BenchmarkModbus200); run it with
//
//	go test -run '^$' -bench Modbus200 -benchtime 1x ./bench/modbus200/
package modbus200
