// Command actorhub runs a node of the actorhub realtime hub (serve), drives one
// with load (bench), and prints its version.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// version is set at build time (-ldflags "-X main.version=…").
var version = "dev"

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "actorhub:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		usage(stderr)
		return errors.New("a command is required")
	}
	switch args[0] {
	case "serve":
		return runServe(ctx, args[1:], stderr)
	case "bench":
		return runBench(ctx, args[1:], stdout, stderr)
	case "chaos":
		return runChaos(ctx, args[1:], stdout, stderr)
	case "certs":
		return runCerts(args[1:], stdout, stderr)
	case "demo-worker":
		return runDemoWorker(ctx, args[1:], stderr)
	case "demo-users":
		return runDemoUsers(ctx, args[1:], stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "actorhub", version)
		return nil
	case "help", "-h", "--help":
		usage(stdout)
		return nil
	}
	usage(stderr)
	return fmt.Errorf("unknown command %q", args[0])
}

func usage(w io.Writer) {
	fmt.Fprint(w, `actorhub — a distributed realtime hub for streaming jobs to WebSocket clients

usage:
  actorhub serve [flags]   run a node (actorhub serve -h lists the flags)
  actorhub bench [flags]   start a node and measure it under load (actorhub bench -h)
  actorhub chaos [flags]   run a local cluster, inject faults, check the invariants (actorhub chaos -h)
  actorhub certs NAME...   a development CA and node certificates for the cluster's mutual TLS, and a gossip key
  actorhub demo-worker     the demo's simulated LLM as its own process (scripts/run-demo.sh)
  actorhub demo-users      the demo's scripted audience: asks, watches, checks every text against its journal
  actorhub version
`)
}

// envOverlay sets every flag of fs that the command line left unset from the
// environment variable ACTORHUB_<FLAG> (upper case, '-' → '_'): the flag wins.
func envOverlay(fs *flag.FlagSet) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		key := "ACTORHUB_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(key); ok {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s=%q: %v", key, v, e)
			}
		}
	})
	return err
}
