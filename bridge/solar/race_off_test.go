//go:build !race

package solar

const raceEnabled = false
