package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

type issued struct {
	cert *x509.Certificate
	der  []byte
	key  *ecdsa.PrivateKey
}

func issue(t *testing.T, cn string, parent *issued, ca bool) *issued {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: ca, BasicConstraintsValid: true, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	if ca {
		tmpl.KeyUsage = x509.KeyUsageCertSign
	}
	signer, signerKey := tmpl, key
	if parent != nil {
		signer, signerKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &issued{cert: cert, der: der, key: key}
}

func certPEM(c *issued) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.der})
}

func keyPEM(t *testing.T, c *issued) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(c.key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// writeGeneration lays out a generation as certswap does and swaps ..data to it.
func writeGeneration(t *testing.T, dir, name string, ca, leaf *issued, key []byte) {
	t.Helper()
	gen := filepath.Join(dir, name)
	if err := os.Mkdir(gen, 0o755); err != nil {
		t.Fatal(err)
	}
	for file, data := range map[string][]byte{"ca.pem": certPEM(ca), "service.cert": certPEM(leaf), "service.key": key} {
		if err := os.WriteFile(filepath.Join(gen, file), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tmp := filepath.Join(dir, "..data_tmp")
	if err := os.Symlink(name, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
}

func TestHandshakeTakesTheLiveGeneration(t *testing.T) {
	dir := t.TempDir()
	ca1, ca2 := issue(t, "ca1", nil, true), issue(t, "ca2", nil, true)
	user1, user2 := issue(t, "user-1", ca1, false), issue(t, "user-2", ca1, false)
	writeGeneration(t, dir, "..gen1", ca1, user1, keyPEM(t, user1))

	r, err := NewCertReloader(dir, nil) // a second reader, for the per-address configs below
	if err != nil {
		t.Fatal(err)
	}
	var reloads []string
	cfg, err := ReloadingTLSConfig(dir, func(g string) { reloads = append(reloads, g) })
	if err != nil {
		t.Fatal(err)
	}
	presented := func() []byte {
		c, err := cfg.GetClientCertificate(&tls.CertificateRequestInfo{})
		if err != nil {
			t.Fatal(err)
		}
		return c.Certificate[0]
	}
	if !bytes.Equal(presented(), user1.der) {
		t.Fatal("the first generation's certificate was not presented")
	}

	writeGeneration(t, dir, "..gen2", ca1, user2, keyPEM(t, user2))
	if !bytes.Equal(presented(), user2.der) || !bytes.Equal(presented(), user2.der) {
		t.Fatal("after the swap the handshake did not present the new certificate")
	}
	if len(reloads) != 1 || reloads[0] != "..gen2" {
		t.Fatalf("reloads = %v, want exactly [..gen2]", reloads)
	}

	// A generation whose key is not the certificate's is refused; gen2 keeps serving.
	user3 := issue(t, "user-3", ca1, false)
	writeGeneration(t, dir, "..gen3", ca1, user3, keyPEM(t, user2))
	if !bytes.Equal(presented(), user2.der) || len(reloads) != 1 {
		t.Fatal("a generation with a mismatched key was taken")
	}

	// The server's chain is checked against the live generation's ca.pem.
	server1, server2 := issue(t, "broker", ca1, false), issue(t, "broker", ca2, false)
	state := func(s *issued) tls.ConnectionState {
		return tls.ConnectionState{ServerName: "127.0.0.1", PeerCertificates: []*x509.Certificate{s.cert}}
	}
	if err := cfg.VerifyConnection(state(server1)); err != nil {
		t.Fatalf("a broker certificate from the live CA was refused: %v", err)
	}
	if err := cfg.VerifyConnection(state(server2)); err == nil {
		t.Fatal("a broker certificate from another CA was accepted")
	}
	if err := cfg.VerifyConnection(tls.ConnectionState{ServerName: "10.0.0.1", PeerCertificates: []*x509.Certificate{server1.cert}}); err == nil {
		t.Fatal("a broker certificate for another host was accepted")
	}
	// An IP address sends no SNI: its config carries the address.
	noSNI := tls.ConnectionState{PeerCertificates: []*x509.Certificate{server1.cert}}
	if err := cfg.VerifyConnection(noSNI); err == nil {
		t.Fatal("a handshake with no server name was accepted")
	}
	if err := r.TLSConfig("127.0.0.1").VerifyConnection(noSNI); err != nil {
		t.Fatalf("the broker's IP address given, its certificate was refused: %v", err)
	}
	if err := r.TLSConfig("10.0.0.1").VerifyConnection(noSNI); err == nil {
		t.Fatal("a broker certificate for another IP address was accepted")
	}
	user4 := issue(t, "user-4", ca2, false)
	writeGeneration(t, dir, "..gen4", ca2, user4, keyPEM(t, user4))
	if err := cfg.VerifyConnection(state(server2)); err != nil {
		t.Fatalf("after a CA change the new CA's broker certificate was refused: %v", err)
	}
	if err := cfg.VerifyConnection(state(server1)); err == nil {
		t.Fatal("after a CA change the old CA's broker certificate was still accepted")
	}
}
