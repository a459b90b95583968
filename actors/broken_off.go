//go:build !chaosbroken

package actors

// ackBeforeDurable is false in every real build. The chaosbroken build tag
// turns it on to prove that `actorhub chaos` catches a hub that acks events
// before they are durable (a test builds that binary; nothing ships it).
const ackBeforeDurable = false
