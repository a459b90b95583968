//go:build chaosbroken

package actors

// ackBeforeDurable: this build is deliberately broken (see broken_off.go).
const ackBeforeDurable = true
