package chaos

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/actorhub/actorhub/internal/backoff"
)

// slow-net makes the cluster's own traffic (between the nodes' addresses,
// nodeNet.0/24) slow and lossy for slowFor, while clients and Redis on
// 127.0.0.1 are untouched. The kernel does it: an htb class on lo for that
// traffic, with netem (delay and loss) under it where the kernel has netem;
// where it has not (this project's test machines), the class caps the rate
// (a queue that delays what exceeds it) and nftables drops slowLoss of the
// packets at random.

const (
	slowFor  = 8 * time.Second
	slowRate = "20mbit"
	slowLoss = 5 // percent
	// slowNetem is the netem of the class where the kernel has it.
	slowNetem = "delay 30ms 10ms loss 5%"
)

// checkTc makes sure tc can shape lo here (root, the tc tool, htb and u32),
// adding and removing the root qdisc once.
func checkTc() error {
	if os.Geteuid() != 0 {
		return errors.New("chaos: slow-net shapes lo with tc and needs root")
	}
	if _, err := exec.LookPath("tc"); err != nil {
		return errors.New("chaos: slow-net needs the tc tool (apt-get install iproute2)")
	}
	if err := tc("qdisc add dev lo root handle 1: htb default 1"); err != nil {
		return fmt.Errorf("chaos: slow-net: the kernel has no htb qdisc for lo: %w", err)
	}
	return tc("qdisc del dev lo root")
}

func tc(args string) error {
	if out, err := exec.Command("tc", strings.Fields(args)...).CombinedOutput(); err != nil {
		return fmt.Errorf("tc %s: %v: %s", args, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// slowNet slows the cluster's traffic for slowFor, restores it and waits
// until the cluster is whole.
func (c *cluster) slowNet(ctx context.Context) string {
	if out, err := exec.Command("tc", "qdisc", "show", "dev", "lo").Output(); err == nil && strings.Contains(string(out), "htb") {
		return " (skipped: lo is shaped already, by another run)" // not ours to change or remove
	}
	how, err := shapeCluster()
	if err != nil {
		_ = unshape()
		return " (" + err.Error() + ")"
	}
	backoff.Sleep(ctx, slowFor)
	if err := unshape(); err != nil {
		return " (" + how + "; restore: " + err.Error() + ")"
	}
	return c.wholeAfter(ctx, " ("+how+")", "the restore", "the cluster whole %d ms after the restore")
}

// shapeCluster installs the shaping and says what it does.
func shapeCluster() (string, error) {
	for _, a := range []string{
		"qdisc add dev lo root handle 1: htb default 1",
		"class add dev lo parent 1: classid 1:1 htb rate 10gbit",
		"class add dev lo parent 1: classid 1:2 htb rate " + slowRate,
		"filter add dev lo parent 1: protocol ip prio 1 u32 match ip src " + nodeNet + ".0/24 match ip dst " + nodeNet + ".0/24 flowid 1:2",
	} {
		if err := tc(a); err != nil {
			return "", err
		}
	}
	if tc("qdisc add dev lo parent 1:2 handle 20: netem "+slowNetem) == nil {
		return "netem " + slowNetem + " under a " + slowRate + " cap", nil
	}
	if err := nftCut(fmt.Sprintf("    ip saddr %[1]s.0/24 ip daddr %[1]s.0/24 numgen random mod 100 < %[2]d drop\n", nodeNet, slowLoss)); err != nil {
		return "", err
	}
	return fmt.Sprintf("no netem in this kernel: a %s cap, %d%% loss", slowRate, slowLoss), nil
}

// unshape removes the shaping (and the loss rule).
func unshape() error {
	err := tc("qdisc del dev lo root")
	_ = dropTable() // absent with netem
	return err
}
