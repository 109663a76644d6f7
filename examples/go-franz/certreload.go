// certreload.go: a *tls.Config that follows certswap's output directory, for
// any Go Kafka client that takes a *tls.Config (franz-go, sarama, kafka-go).
// Copy this file into your program (change the package name).
//
// certswap writes ca.pem, service.cert and service.key into generation
// directories and swaps the DIR/..data symlink atomically. Go calls
// GetClientCertificate on every TLS handshake, so a client built once with
// this config presents the live certificate on each new connection:
//
//	tlsCfg, err := ReloadingTLSConfig("/var/lib/certswap/creds", nil)
//	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DialTLSConfig(tlsCfg)) // franz-go
//
// Brokers addressed by IP (Go sends no SNI for them) need a config per host,
// NewCertReloader(dir, nil) then r.TLSConfig(host) in the client's dial hook
// (main.go does this with kgo.Dialer).
//
// On each handshake the reloader resolves DIR/..data once and reads
// service.cert, service.key and ca.pem through that resolved generation
// directory, so the certificate and key always belong together; the parsed set
// is cached under the generation's name, so a handshake costs one readlink
// while nothing changes. A generation that cannot be used (key not matching
// the certificate, unreadable file) is refused and the previous set keeps
// serving. The broker's certificate is checked against the same generation's
// ca.pem in VerifyConnection (InsecureSkipVerify only switches off Go's fixed
// RootCAs check: the chain and the host name are verified there instead).
// Connections already open keep the certificate they authenticated with.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// credentialSet is one generation's parsed files.
type credentialSet struct {
	generation string
	cert       *tls.Certificate
	roots      *x509.CertPool
}

// CertReloader serves the credentials of the generation DIR/..data points at.
type CertReloader struct {
	dir      string
	onReload func(generation string) // called once per new generation taken (optional)

	mu      sync.Mutex
	current *credentialSet
	refused string // the last generation refused, so it is logged once
}

// ReloadingTLSConfig returns a client TLS config reading dir on each handshake,
// for brokers addressed by DNS name (Aiven's are). It fails if dir holds no
// usable generation now.
func ReloadingTLSConfig(dir string, onReload func(generation string)) (*tls.Config, error) {
	r, err := NewCertReloader(dir, onReload)
	if err != nil {
		return nil, err
	}
	return r.TLSConfig(""), nil
}

// NewCertReloader checks that dir holds a usable generation now.
func NewCertReloader(dir string, onReload func(generation string)) (*CertReloader, error) {
	r := &CertReloader{dir: dir, onReload: onReload}
	if _, err := r.Current(); err != nil {
		return nil, err
	}
	return r, nil
}

// TLSConfig is the config for one broker; serverName "" takes the name the
// client sends as SNI. Go sends no SNI for an IP address, so a broker
// addressed by IP needs its own config: TLSConfig(ip), e.g. from kgo.Dialer.
func (r *CertReloader) TLSConfig(serverName string) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			s, err := r.Current()
			if err != nil {
				return nil, err
			}
			return s.cert, nil
		},
		// Go's own verification would use fixed RootCAs; verify against the live CA instead.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if serverName != "" {
				cs.ServerName = serverName
			}
			return r.verifyServer(cs)
		},
	}
}

// Current returns the set of the generation ..data points at now (or, if that
// one cannot be used, the last good one).
func (r *CertReloader) Current() (*credentialSet, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	generation, base, err := r.resolve()
	if err == nil && r.current != nil && generation == r.current.generation {
		return r.current, nil
	}
	var s *credentialSet
	if err == nil {
		s, err = load(generation, base)
	}
	if err != nil {
		if r.current == nil {
			return nil, err
		}
		if generation != r.refused {
			r.refused = generation
			fmt.Fprintf(os.Stderr, "certreload: keeping generation %s: %v\n", r.current.generation, err)
		}
		return r.current, nil
	}
	first := r.current == nil
	r.current, r.refused = s, ""
	if !first && r.onReload != nil {
		r.onReload(generation)
	}
	return s, nil
}

// resolve reads the ..data link once: the generation's name and directory.
func (r *CertReloader) resolve() (string, string, error) {
	target, err := os.Readlink(filepath.Join(r.dir, "..data"))
	if err != nil {
		return "", "", fmt.Errorf("%s is not a certswap output directory: %w", r.dir, err)
	}
	if filepath.IsAbs(target) {
		return target, target, nil
	}
	return target, filepath.Join(r.dir, target), nil
}

func load(generation, base string) (*credentialSet, error) {
	certPEM, err := os.ReadFile(filepath.Join(base, "service.cert"))
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(filepath.Join(base, "service.key"))
	if err != nil {
		return nil, err
	}
	caPEM, err := os.ReadFile(filepath.Join(base, "ca.pem"))
	if err != nil {
		return nil, err
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM) // fails unless the key matches the certificate
	if err != nil {
		return nil, fmt.Errorf("generation %s: %w", generation, err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("generation %s: no certificate in ca.pem", generation)
	}
	return &credentialSet{generation: generation, cert: &cert, roots: roots}, nil
}

// verifyServer does what Go does with RootCAs and ServerName, with the live CA.
func (r *CertReloader) verifyServer(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("certreload: the server sent no certificate")
	}
	if cs.ServerName == "" {
		return errors.New("certreload: no server name to verify the broker's certificate against " +
			"(an IP address sends no SNI: use TLSConfig(ip) for it)")
	}
	s, err := r.Current()
	if err != nil {
		return err
	}
	opts := x509.VerifyOptions{Roots: s.roots, DNSName: cs.ServerName, Intermediates: x509.NewCertPool()}
	for _, c := range cs.PeerCertificates[1:] {
		opts.Intermediates.AddCert(c)
	}
	_, err = cs.PeerCertificates[0].Verify(opts)
	return err
}
