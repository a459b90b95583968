// Package devcerts makes the certificates of a development cluster: a CA and
// node certificates it signs, for the actor-remote port's mutual TLS
// (`actorhub certs`). Keys are ECDSA P-256, written 0600. Production clusters
// should issue node certificates from their own PKI; the files have the same
// shape (PEM certificate, PEM PKCS#8 key, PEM CA).
package devcerts

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"time"
)

// Lifetimes of what Make issues.
const (
	CALifetime   = 10 * 365 * 24 * time.Hour
	NodeLifetime = 825 * 24 * time.Hour // the longest a public CA may issue; rotate with a rolling restart
)

var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// Files are the paths Make wrote or reused.
type Files struct {
	CA, CAKey string
	// Nodes maps a node name to its certificate and key.
	Nodes map[string][2]string
}

// Make writes dir/ca.pem and dir/ca-key.pem (kept when they exist, so new
// nodes join the same cluster) and, per name, dir/NAME.pem and
// dir/NAME-key.pem, valid for every host in hosts (DNS names or IPs) and for
// the name itself. An existing node certificate is replaced.
func Make(dir string, names, hosts []string) (*Files, error) {
	if len(names) == 0 {
		return nil, errors.New("no node name")
	}
	for _, n := range names {
		if !validName.MatchString(n) || n == "ca" {
			return nil, fmt.Errorf("node name %q: letters, digits, '.', '_' and '-', not \"ca\"", n)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f := &Files{CA: filepath.Join(dir, "ca.pem"), CAKey: filepath.Join(dir, "ca-key.pem"), Nodes: map[string][2]string{}}
	ca, caKey, err := loadCA(f.CA, f.CAKey)
	if errors.Is(err, os.ErrNotExist) {
		ca, caKey, err = newCA(f.CA, f.CAKey)
	}
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		cert, key := filepath.Join(dir, n+".pem"), filepath.Join(dir, n+"-key.pem")
		if err := issue(ca, caKey, n, hosts, cert, key); err != nil {
			return nil, err
		}
		f.Nodes[n] = [2]string{cert, key}
	}
	return f, nil
}

func serial() (*big.Int, error) { return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127)) }

func newCA(certPath, keyPath string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	sn, err := serial()
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: sn, Subject: pkix.Name{CommonName: "actorhub development cluster CA", Organization: []string{"actorhub"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(CALifetime),
		IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	if err := write(certPath, keyPath, der, key); err != nil {
		return nil, nil, err
	}
	ca, err := x509.ParseCertificate(der)
	return ca, key, err
}

func loadCA(certPath, keyPath string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	cb, err := os.ReadFile(certPath)
	if err != nil {
		return nil, nil, err
	}
	kb, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, nil, err
	}
	cp, _ := pem.Decode(cb)
	kp, _ := pem.Decode(kb)
	if cp == nil || kp == nil {
		return nil, nil, fmt.Errorf("%s or %s is not PEM", certPath, keyPath)
	}
	ca, err := x509.ParseCertificate(cp.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", certPath, err)
	}
	k, err := x509.ParsePKCS8PrivateKey(kp.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", keyPath, err)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok || !key.PublicKey.Equal(ca.PublicKey) {
		return nil, nil, fmt.Errorf("%s is not the key of %s", keyPath, certPath)
	}
	return ca, key, nil
}

func issue(ca *x509.Certificate, caKey *ecdsa.PrivateKey, name string, hosts []string, certPath, keyPath string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	sn, err := serial()
	if err != nil {
		return err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: sn, Subject: pkix.Name{CommonName: name, Organization: []string{"actorhub"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(NodeLifetime),
		KeyUsage: x509.KeyUsageDigitalSignature,
		// a node is a server to the peers that dial it and a client of those it dials
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:    []string{name},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" && h != name {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	return write(certPath, keyPath, der, key)
}

func write(certPath, keyPath string, der []byte, key *ecdsa.PrivateKey) error {
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		return err
	}
	if err := os.Chmod(keyPath, 0o600); err != nil { // WriteFile keeps the mode of a file that existed
		return err
	}
	return os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}
