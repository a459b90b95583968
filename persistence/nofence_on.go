//go:build chaosnofence

package persistence

// skipFencing: this build is deliberately broken (see nofence_off.go).
const skipFencing = true
