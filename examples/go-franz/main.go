// go-producer: a franz-go producer that presents certswap's renewed client
// certificate on every new connection, with no restart and no signal.
//
//	go-producer --credentials DIR --bootstrap HOST:PORT --topic T [--rate 200] [--no-reload]
//	            [--latency-log FILE]
//
// It sends "0", "1", "2", ... (key "k<n mod 4>") at a fixed rate until
// SIGTERM/SIGINT. The client's tls.Config comes from ReloadingTLSConfig
// (certreload.go), so each handshake takes the generation DIR/..data points at.
// With --no-reload the pair and the CA are loaded once, as most apps do.
//
// Message n is due at start + n/rate; a pause (Produce blocks while the
// client's buffer is full) is caught up afterwards, so it shows as latency, not
// as fewer messages.
//
// Stdout is JSON lines, like the other examples: started, reloaded, summary.
// --latency-log FILE gets one line per message sent, "<due unix ms> <ms to
// acknowledgement | failed | undelivered>", from which the tests cut the
// windows around the swap and the broker restart.
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

var outMu sync.Mutex

func emit(event map[string]any) {
	line, _ := json.Marshal(event)
	outMu.Lock()
	defer outMu.Unlock()
	os.Stdout.Write(append(line, '\n'))
}

type stats struct {
	mu        sync.Mutex
	scheduled []time.Time
	latency   map[int]float64 // sequence number -> ms from scheduled send to delivery
	failed    map[int]bool
	started   bool
	reloads   int
}

func (s *stats) onReload(generation string) {
	s.mu.Lock()
	s.reloads++
	s.mu.Unlock()
	emit(map[string]any{"event": "reloaded", "generation": generation})
}

func loadOnce(dir string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "service.cert"), filepath.Join(dir, "service.key"))
	if err != nil {
		return nil, err
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("no certificate in %s/ca.pem", dir)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}, RootCAs: roots}, nil
}

// writeLatencyLog writes one line per message sent, in the order sent.
func (s *stats) writeLatencyLog(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for seq, at := range s.scheduled {
		fmt.Fprintf(w, "%.3f ", float64(at.UnixMicro())/1000)
		if ms, ok := s.latency[seq]; ok {
			fmt.Fprintf(w, "%.3f\n", ms)
		} else if s.failed[seq] {
			fmt.Fprintln(w, "failed")
		} else {
			fmt.Fprintln(w, "undelivered")
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func main() {
	dir := flag.String("credentials", "", "certswap's output directory")
	bootstrap := flag.String("bootstrap", "", "HOST:PORT")
	topic := flag.String("topic", "", "topic")
	rate := flag.Float64("rate", 200, "messages per second")
	noReload := flag.Bool("no-reload", false, "load the certificate once (to show what breaks)")
	latencyLog := flag.String("latency-log", "", "write each message's due time and latency here at exit")
	flag.Parse()
	if *dir == "" || *bootstrap == "" || *topic == "" || !(*rate > 0) {
		fmt.Fprintln(os.Stderr, "usage: go-producer --credentials DIR --bootstrap HOST:PORT --topic T [--rate 200] [--no-reload] [--latency-log FILE]")
		os.Exit(64)
	}

	st := &stats{latency: map[int]float64{}, failed: map[int]bool{}}
	var tlsOpt kgo.Opt
	if *noReload {
		tlsCfg, err := loadOnce(*dir)
		if err != nil {
			fmt.Fprintln(os.Stderr, "go-producer:", err)
			os.Exit(1)
		}
		tlsOpt = kgo.DialTLSConfig(tlsCfg)
	} else {
		reloader, err := NewCertReloader(*dir, st.onReload)
		if err != nil {
			fmt.Fprintln(os.Stderr, "go-producer:", err)
			os.Exit(1)
		}
		// A config per broker, so that brokers advertised by IP address (no SNI)
		// are verified against their address; by DNS name,
		// kgo.DialTLSConfig(reloader.TLSConfig("")) is enough.
		tlsOpt = kgo.Dialer(func(ctx context.Context, network, host string) (net.Conn, error) {
			name, _, err := net.SplitHostPort(host)
			if err != nil {
				return nil, err
			}
			d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 10 * time.Second}, Config: reloader.TLSConfig(name)}
			return d.DialContext(ctx, network, host)
		})
	}

	cl, err := kgo.NewClient(
		kgo.SeedBrokers(*bootstrap),
		tlsOpt,
		kgo.DefaultProduceTopic(*topic),
		// Idempotent by default: no duplicate, no reordering. No record delivery
		// timeout: a record waits for the broker however long it is away.
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(5*time.Millisecond),
		kgo.RetryBackoffFn(func(int) time.Duration { return 100 * time.Millisecond }),
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, "go-producer:", err)
		os.Exit(1)
	}

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	interval := time.Duration(float64(time.Second) / *rate)
	start := time.Now()
	ticker := time.NewTicker(time.Millisecond)
	defer ticker.Stop()
	ctx := context.Background()
loop:
	for {
		select {
		case <-stop:
			break loop
		case now := <-ticker.C:
			// Catch up on the schedule, so a pause shows up as latency, not as fewer messages.
			for {
				st.mu.Lock()
				seq := len(st.scheduled)
				at := start.Add(time.Duration(seq) * interval)
				if at.After(now) {
					st.mu.Unlock()
					break
				}
				st.scheduled = append(st.scheduled, at)
				st.mu.Unlock()
				rec := &kgo.Record{Key: []byte("k" + strconv.Itoa(seq%4)), Value: []byte(strconv.Itoa(seq))}
				cl.Produce(ctx, rec, func(_ *kgo.Record, err error) {
					st.mu.Lock()
					defer st.mu.Unlock()
					if err != nil {
						st.failed[seq] = true
						fmt.Fprintf(os.Stderr, "delivery failed for %d: %v\n", seq, err)
						return
					}
					st.latency[seq] = float64(time.Since(at).Microseconds()) / 1000
					if !st.started {
						st.started = true
						emit(map[string]any{"event": "started"})
					}
				})
			}
		}
	}

	stopped := time.Now()
	// Due when the stop came but never handed to the client.
	unsent := max(0, int(stopped.Sub(start)/interval)+1-len(st.scheduled))
	flushCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	if err := cl.Flush(flushCtx); err != nil {
		fmt.Fprintln(os.Stderr, "go-producer: not everything delivered within 30 s:", err)
	}
	cancel()
	cl.Close() // fails what is still buffered: counted as failed

	st.mu.Lock()
	defer st.mu.Unlock()
	if *latencyLog != "" {
		if err := st.writeLatencyLog(*latencyLog); err != nil {
			fmt.Fprintln(os.Stderr, "go-producer: cannot write the latency log:", err)
		}
	}
	emit(map[string]any{"event": "summary", "sent": len(st.scheduled), "delivered": len(st.latency),
		"failed": len(st.failed), "unsent": unsent, "reloads": st.reloads,
		"rate": float64(len(st.scheduled)) / stopped.Sub(start).Seconds()})
}
