//go:build !race

package esl

const raceOn = false
