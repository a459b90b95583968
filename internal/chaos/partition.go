package chaos

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/actorhub/actorhub/internal/backoff"
)

// Partitions are made by the kernel, not by the code under test: in a run
// with a partition fault every node's gossip and remote ports live on an
// address of its own (127.0.1.N), from which it also dials the others
// (cluster/source.go), and nftables drops the packets between two such
// addresses. Clients (HTTP, WebSocket) and Redis stay on 127.0.0.1, so a cut
// node keeps its clients and its store.

// partitionFor is how long a cut lasts: past failure detection, so that the
// others declare the node dead and take its jobs over.
const partitionFor = 4 * time.Second

// partitionFaults lists the kinds that need the nodes on addresses of their
// own and nftables.
var partitionFaults = []string{FaultPartition, FaultAsymmetric}

// nodeHost is the address of node i's cluster ports in a partition run.
func nodeHost(i int) string { return "127.0.1." + strconv.Itoa(i+1) }

// nftTable names this run's nftables table.
func nftTable() string { return "actorhub_chaos_" + strconv.Itoa(os.Getpid()) }

// checkNft makes sure nftables can cut (root, the nft tool, a kernel with
// nf_tables), creating and removing the run's table once.
func checkNft() error {
	if os.Geteuid() != 0 {
		return errors.New("chaos: partition faults are cut with nftables and need root")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		return errors.New("chaos: partition faults need the nft tool (apt-get install nftables)")
	}
	if err := nft(fmt.Sprintf("add table inet %s\ndelete table inet %s\n", nftTable(), nftTable())); err != nil {
		return fmt.Errorf("chaos: nftables cannot make a table here (no nf_tables in the kernel?): %w", err)
	}
	return nil
}

func nft(script string) error {
	cmd := exec.Command("nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("nft: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// cut drops what the other nodes send to n and, unless oneWay, what n sends
// to them.
func (c *cluster) cut(n *node, oneWay bool) error {
	var others []string
	for _, o := range c.nodes {
		if o != n {
			others = append(others, o.host)
		}
	}
	set := "{ " + strings.Join(others, ", ") + " }"
	rules := fmt.Sprintf("    ip saddr %s ip daddr %s drop\n", set, n.host)
	if !oneWay {
		rules += fmt.Sprintf("    ip saddr %s ip daddr %s drop\n", n.host, set)
	}
	return nft(fmt.Sprintf("table inet %[1]s {\n  chain cut {\n    type filter hook input priority 0; policy accept;\n%[2]s  }\n}\n", nftTable(), rules))
}

// heal removes every cut of the run.
func (c *cluster) heal() error {
	return nft(fmt.Sprintf("delete table inet %s\n", nftTable()))
}

// partition cuts n from the others (one way: the others do not reach n,
// n reaches them) for partitionFor, heals, and waits until every node sees
// every node alive again. It returns the fault's note.
func (c *cluster) partition(ctx context.Context, n *node, oneWay bool) string {
	if err := c.cut(n, oneWay); err != nil {
		return " (" + err.Error() + ")"
	}
	backoff.Sleep(ctx, partitionFor)
	if err := c.heal(); err != nil {
		return " (heal: " + err.Error() + ")"
	}
	healed := time.Now()
	if err := c.converged(ctx, 30*time.Second); err != nil {
		return " (after the heal: " + err.Error() + ")"
	}
	return fmt.Sprintf(" (the cluster whole again %d ms after the heal)", time.Since(healed).Milliseconds())
}

// needsOwnHosts reports whether the run has a partition fault.
func needsOwnHosts(faults []string) bool {
	return slices.ContainsFunc(faults, func(f string) bool { return slices.Contains(partitionFaults, f) })
}
