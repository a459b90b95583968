//go:build !chaosnofence

package persistence

// skipFencing is false in every real build. The chaosnofence build tag
// (nofence_on.go) sets it, to check that chaos's partition fault catches a hub
// whose appends are not fenced (internal/chaos TestChaosCatchesNoFencing).
const skipFencing = false
