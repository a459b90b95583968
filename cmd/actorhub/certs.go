package main

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/actorhub/actorhub/internal/devcerts"
)

// runCerts makes a development CA and node certificates for the cluster's
// mutual TLS, and a gossip key.
func runCerts(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("certs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "certs", "folder of ca.pem, ca-key.pem and NAME.pem / NAME-key.pem (an existing CA there is reused)")
	hosts := fs.String("hosts", "127.0.0.1,::1,localhost", "host names and IPs the node certificates are valid for, comma-separated: the addresses peers dial (--remote)")
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: actorhub certs [--dir certs] [--hosts h1,h2] NAME...

Makes a development CA (once) and a certificate per node NAME, for
  actorhub serve --tls-ca DIR/ca.pem --tls-cert DIR/NAME.pem --tls-key DIR/NAME-key.pem
and prints a fresh gossip key for --gossip-key-file. Keep ca-key.pem off the nodes.

`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errors.New("certs: name at least one node")
	}
	var hs []string
	for _, h := range strings.Split(*hosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			hs = append(hs, h)
		}
	}
	f, err := devcerts.Make(*dir, fs.Args(), hs)
	if err != nil {
		return fmt.Errorf("certs: %w", err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "CA:  %s (its key %s: keep it off the nodes)\n", f.CA, f.CAKey)
	for _, n := range fs.Args() {
		fmt.Fprintf(stdout, "%s: --tls-ca %s --tls-cert %s --tls-key %s\n", n, f.CA, f.Nodes[n][0], f.Nodes[n][1])
	}
	fmt.Fprintf(stdout, "a new gossip key (the same on every node; put it in a file for --gossip-key-file):\n%s\n", base64.StdEncoding.EncodeToString(key))
	return nil
}
