// Package pemfile reads the PEM files of TLS settings (the cluster's mutual
// TLS, the store's rediss://).
package pemfile

import (
	"crypto/x509"
	"fmt"
	"os"
)

// CertPool returns the certificates of the PEM file at path as a pool; a
// file that holds none is an error naming it.
func CertPool(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}
