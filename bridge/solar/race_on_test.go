//go:build race

package solar

// raceEnabled: the year replay is too slow under the race detector; `make
// test` runs it in a second pass without it.
const raceEnabled = true
