//go:build race

package esl

// raceOn: allocation counts are not asserted under the race detector (its
// sync.Pool drops items at random).
const raceOn = true
