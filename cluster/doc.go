// Package cluster is how nodes find and talk to each other:
//
//   - Membership: a memberlist gossip member whose meta carries the node id,
//     the actor-remote address, the public HTTP address, the version and the
//     draining flag; its View names every member's state (alive, suspect,
//     dead, left) and hashes each job id to a placeable member by
//     rendezvous hashing (View.Owner): the job's directory node.
//   - Placement (locate.go): a job lives where it is made, or, when no node
//     holds it, on the first node that activates it (the node it hashes to).
//     The store's lease names its holder; nodes remember where jobs live and
//     tell each other (kindWhere) so that messages go straight there.
//   - Network: the data plane. It runs protoactor's remote (gRPC) and a router
//     actor that carries actor messages between nodes in one stable envelope
//     type (clusterpb.Envelope): a job message to the node that holds the job
//     (Route), the answer back, a message to an actor on any node (Tell,
//     encoded once for all the nodes it goes to). A forwarded message whose
//     node dies is routed once more; one that gets no answer in time gets its
//     sender the table's failure answer.
//   - Table: the one declaration of every message that crosses nodes (name,
//     Go type, kind, failure answer). The actors package owns the table and
//     its message types; encoding, decoding and failure routing follow from it.
//
// It imports memberlist, protoactor-go (actor, remote), events and
// internal packages; never actors or transport.
//
// Concurrency: Membership's and Network's methods are safe for concurrent use
// and do not block (Start and Stop excepted). memberlist callbacks never call
// back into memberlist; they copy and signal the membership's own goroutine.
// The router is an actor: its state is touched only in Receive; its timers
// belong to the Network and stop with it.
package cluster
