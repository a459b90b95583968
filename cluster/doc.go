// Package cluster is a node's membership: a memberlist gossip member whose
// meta carries the node id, the actor-remote address, the public HTTP address,
// the version and the draining flag. Placement and routing between nodes come
// with the cluster issue; today a node runs a cluster of one.
//
// It imports memberlist and events' peers only; never transport. Membership's
// methods are safe for concurrent use; memberlist callbacks never call back
// into memberlist.
package cluster
