package rocketmq

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"sync"
	"time"
)

// listen opens the listener: TLS (the official clients dial TLS unless
// told otherwise), and with Plaintext also connections without TLS on the
// same port, told apart by their first byte (a TLS handshake record starts
// with 0x16, an HTTP/2 preface with 'P').
func (s *Service) listen() (net.Listener, error) {
	cert, err := s.certificate()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", s.opts.Listen)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2"}, MinVersion: tls.VersionTLS12}
	return &sniffListener{Listener: ln, tls: cfg, plaintext: s.opts.Plaintext}, nil
}

func (s *Service) certificate() (tls.Certificate, error) {
	if s.opts.TLSCert != "" || s.opts.TLSKey != "" {
		c, err := tls.LoadX509KeyPair(s.opts.TLSCert, s.opts.TLSKey)
		if err != nil {
			return c, fmt.Errorf("rocketmq.tls: %w", err)
		}
		return c, nil
	}
	c, err := SelfSignedCertificate()
	if err == nil {
		s.log.Warn("rocketmq.tls.cert not set: serving a generated self-signed certificate (the RocketMQ clients do not verify it by default)")
	}
	return c, err
}

// SelfSignedCertificate makes a throwaway ECDSA certificate for localhost
// (127.0.0.1, ::1): the endpoint serves it when no certificate is
// configured, and the bench's reference proxy serves it too.
func SelfSignedCertificate() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "jetmq", Organization: []string{"jetmq self-signed"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(10 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

type sniffListener struct {
	net.Listener
	tls       *tls.Config
	plaintext bool
}

// Accept hands out connections at once; the first byte is read lazily by
// the connection itself, so one slow client does not hold up Accept.
func (l *sniffListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &sniffConn{Conn: c, l: l}, nil
}

type sniffConn struct {
	net.Conn
	l      *sniffListener
	mu     sync.Mutex
	inner  net.Conn
	failed error
}

func (c *sniffConn) pick() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inner != nil || c.failed != nil {
		return c.failed
	}
	br := bufio.NewReaderSize(c.Conn, 1)
	_ = c.Conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := br.Peek(1)
	_ = c.Conn.SetReadDeadline(time.Time{})
	if err != nil {
		c.failed = err
		return err
	}
	pc := &peekedConn{Conn: c.Conn, r: br}
	switch {
	case b[0] == 0x16:
		c.inner = tls.Server(pc, c.l.tls)
	case c.l.plaintext:
		c.inner = pc
	default:
		c.failed = fmt.Errorf("plaintext connection refused: this endpoint serves TLS (set rocketmq.plaintext to accept both)")
		return c.failed
	}
	return nil
}

func (c *sniffConn) Read(p []byte) (int, error) {
	if err := c.pick(); err != nil {
		return 0, err
	}
	return c.inner.Read(p)
}

func (c *sniffConn) Write(p []byte) (int, error) {
	if err := c.pick(); err != nil {
		return 0, err
	}
	return c.inner.Write(p)
}

// Close closes the raw connection: a TLS close-notify is not needed, and
// taking the lock here would wait for a pick blocked on its first byte.
func (c *sniffConn) Close() error { return c.Conn.Close() }

type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *peekedConn) Read(p []byte) (int, error) { return c.r.Read(p) }
