// go-producer: a franz-go producer that presents certswap's renewed client
// certificate on every new connection, with no restart and no signal.
//
//	go-producer --credentials DIR --bootstrap HOST:PORT --topic T [--rate 200] [--no-reload]
//
// It sends "0", "1", "2", ... (key "k<n mod 4>") at a fixed rate until
// SIGTERM/SIGINT. The client's tls.Config comes from ReloadingTLSConfig
// (certreload.go), so each handshake takes the generation DIR/..data points at.
// With --no-reload the pair and the CA are loaded once, as most apps do.
//
// Stdout is JSON lines, like the other examples: started, reloaded, summary.
package main

import (
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
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	changeWindow = 2 * time.Second // "during": from the first reload until this long after
	afterWindow  = 3 * time.Second // "after": the next few seconds; "later": the rest
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
	failed    int
	started   bool
	reloads   int
	reloadAt  time.Time
}

func (s *stats) onReload(generation string) {
	s.mu.Lock()
	s.reloads++
	if s.reloads == 1 {
		s.reloadAt = time.Now()
	}
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

func percentiles(values []float64) map[string]any {
	if len(values) == 0 {
		return map[string]any{"n": 0, "p50": 0, "p99": 0}
	}
	sort.Float64s(values)
	p99 := len(values) * 99 / 100
	if p99 > len(values)-1 {
		p99 = len(values) - 1
	}
	round := func(v float64) float64 { return float64(int64(v*100+0.5)) / 100 }
	return map[string]any{"n": len(values), "p50": round(values[len(values)/2]), "p99": round(values[p99])}
}

func main() {
	dir := flag.String("credentials", "", "certswap's output directory")
	bootstrap := flag.String("bootstrap", "", "HOST:PORT")
	topic := flag.String("topic", "", "topic")
	rate := flag.Float64("rate", 200, "messages per second")
	noReload := flag.Bool("no-reload", false, "load the certificate once (to show what breaks)")
	flag.Parse()
	if *dir == "" || *bootstrap == "" || *topic == "" || !(*rate > 0) {
		fmt.Fprintln(os.Stderr, "usage: go-producer --credentials DIR --bootstrap HOST:PORT --topic T [--rate 200] [--no-reload]")
		os.Exit(64)
	}

	st := &stats{latency: map[int]float64{}}
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
		kgo.RequiredAcks(kgo.AllISRAcks()), // idempotent by default: no duplicate, no reordering
		kgo.ProducerLinger(5*time.Millisecond),
		kgo.RecordDeliveryTimeout(30*time.Second),
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
						st.failed++
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

	flushCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	if err := cl.Flush(flushCtx); err != nil {
		fmt.Fprintln(os.Stderr, "go-producer: not everything delivered within 30 s:", err)
	}
	cancel()
	cl.Close() // fails what is still buffered: counted as failed

	st.mu.Lock()
	defer st.mu.Unlock()
	phases := map[string][]float64{"before": nil, "during": nil, "after": nil, "later": nil}
	for seq, ms := range st.latency {
		t := st.scheduled[seq]
		switch {
		case st.reloads == 0 || t.Before(st.reloadAt):
			phases["before"] = append(phases["before"], ms)
		case !t.After(st.reloadAt.Add(changeWindow)):
			phases["during"] = append(phases["during"], ms)
		case !t.After(st.reloadAt.Add(changeWindow + afterWindow)):
			phases["after"] = append(phases["after"], ms)
		default:
			phases["later"] = append(phases["later"], ms)
		}
	}
	lat := map[string]any{}
	for k, v := range phases {
		lat[k] = percentiles(v)
	}
	emit(map[string]any{"event": "summary", "sent": len(st.scheduled), "delivered": len(st.latency),
		"failed": st.failed, "reloads": st.reloads, "latency_ms": lat})
}
