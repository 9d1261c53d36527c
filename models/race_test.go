//go:build race

package models_test

// raceOn scales the memory measurement down under the race detector (it
// slows everything ~10x; the figures only matter without it).
const raceOn = true
