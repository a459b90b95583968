package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
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
// address of its own (127.A.B.N, A.B this run's: nodeNet), from which it also dials the others
// (cluster/source.go), and nftables drops the packets between two such
// addresses. Clients (HTTP, WebSocket) and Redis stay on 127.0.0.1, so a cut
// node keeps its clients and its store.

// partitionFor is how long a cut lasts: past failure detection, so that the
// others declare the node dead and take its jobs over, and past the cut
// node's standby (cluster.Standby: it sees a minority, 2 s after it saw the
// others gone).
const partitionFor = 6 * time.Second

// partitionFaults lists the kinds that need the nodes on addresses of their
// own and nftables.
var partitionFaults = []string{FaultPartition, FaultAsymmetric, FaultIsolateStore, FaultSlowNet}

// nodeHost is the address of node i's cluster ports in a partition run.
func nodeHost(i int) string { return nodeNet + "." + strconv.Itoa(i+1) }

// nodeNet is the /24 of this run's node addresses: one of its own (by the
// harness's pid), so that two runs on one machine (a soak beside make test)
// never cut, or shape, each other's nodes.
var nodeNet = fmt.Sprintf("127.%d.%d", 1+(os.Getpid()>>8)%254, os.Getpid()%256)

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
	set := c.othersSet(n)
	rules := fmt.Sprintf("    ip saddr %s ip daddr %s drop\n", set, n.host)
	if !oneWay {
		rules += fmt.Sprintf("    ip saddr %s ip daddr %s drop\n", n.host, set)
	}
	return nftCut(rules)
}

// cutStore drops what n and the store's processes (Redis, its replicas and
// the sentinel) send each other: n dials the store from its own address
// (--store-source), the other nodes from 127.0.0.1.
func (c *cluster) cutStore(n *node) error {
	var ports []string
	for _, r := range c.stores() {
		ports = append(ports, strconv.Itoa(r.port))
	}
	set := "{ " + strings.Join(ports, ", ") + " }"
	return nftCut(fmt.Sprintf("    ip saddr %[1]s tcp dport %[2]s drop\n    ip daddr %[1]s tcp sport %[2]s drop\n", n.host, set))
}

func (c *cluster) othersSet(n *node) string {
	var others []string
	for _, o := range c.nodes {
		if o != n {
			others = append(others, o.host)
		}
	}
	return "{ " + strings.Join(others, ", ") + " }"
}

// nftCut installs the run's table with rules in an input-hook chain.
func nftCut(rules string) error {
	return nft(fmt.Sprintf("table inet %[1]s {\n  chain cut {\n    type filter hook input priority 0; policy accept;\n%[2]s  }\n}\n", nftTable(), rules))
}

// heal removes every cut of the run (and slow-net's loss rule: the same
// table).
func (c *cluster) heal() error { return dropTable() }

func dropTable() error { return nft(fmt.Sprintf("delete table inet %s\n", nftTable())) }

// partition cuts n from the others (one way: the others do not reach n,
// n reaches them) for partitionFor, with a split-brain probe writing on both
// sides (probe.go), heals, and waits until every node sees every node alive
// again. It returns the fault's note.
func (c *cluster) partition(ctx context.Context, n *node, oneWay bool) string {
	c.probeTries++ // a number of its own per try: a failed try's jobs are not reused
	p, note := c.startProbe(ctx, n, c.probeTries)
	if p != nil {
		c.probes = append(c.probes, p)
	}
	if err := c.cut(n, oneWay); err != nil {
		if p != nil {
			p.end()
		}
		return " (" + err.Error() + ")"
	}
	note = c.standbyDuring(ctx, n, partitionFor) + note
	if p != nil {
		note += p.end()
	}
	return c.healed(ctx, note)
}

// isolateStore cuts n from the store for partitionFor: n goes on standby
// (the store does not answer while the others can hold its jobs), its jobs
// move to the others, and nothing acknowledged is lost.
func (c *cluster) isolateStore(ctx context.Context, n *node) string {
	if err := c.cutStore(n); err != nil {
		return " (" + err.Error() + ")"
	}
	return c.healed(ctx, c.standbyDuring(ctx, n, partitionFor))
}

// healed heals, waits until the cluster is whole and adds that to note.
func (c *cluster) healed(ctx context.Context, note string) string {
	if err := c.heal(); err != nil {
		return note + " (heal: " + err.Error() + ")"
	}
	return c.wholeAfter(ctx, note, "the heal", "the cluster whole again %d ms after the heal")
}

// wholeAfter waits until every node sees every node alive again after what
// ended (the heal, the restore) and adds to note how long that took
// (whole, with a %d for the ms) or why it did not happen.
func (c *cluster) wholeAfter(ctx context.Context, note, what, whole string) string {
	ended := time.Now()
	if err := c.converged(ctx, 30*time.Second); err != nil {
		return note + " (after " + what + ": " + err.Error() + ")"
	}
	return note + "; " + fmt.Sprintf(whole, time.Since(ended).Milliseconds())
}

// standbyDuring waits d, watching n's /readyz; it returns when n went on
// standby (cluster.Standby), if it did.
func (c *cluster) standbyDuring(ctx context.Context, n *node, d time.Duration) string {
	start := time.Now()
	note := fmt.Sprintf(" (%s not on standby)", n.id)
	hc := &http.Client{Timeout: 200 * time.Millisecond}
	for time.Since(start) < d && ctx.Err() == nil {
		if onStandby(hc, n) {
			note = fmt.Sprintf(" (%s on standby after %d ms)", n.id, time.Since(start).Milliseconds())
			break
		}
		backoff.Sleep(ctx, 100*time.Millisecond)
	}
	backoff.Sleep(ctx, d-time.Since(start))
	return note
}

func onStandby(hc *http.Client, n *node) bool {
	resp, err := hc.Get(n.url("/readyz"))
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var st struct {
		Status string `json:"status"`
	}
	return resp.StatusCode == 503 && json.NewDecoder(resp.Body).Decode(&st) == nil && st.Status == "standby"
}

// needsOwnHosts reports whether the run has a partition fault.
func needsOwnHosts(faults []string) bool {
	return slices.ContainsFunc(faults, func(f string) bool { return slices.Contains(partitionFaults, f) })
}
