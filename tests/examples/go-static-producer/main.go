// An ordinary librdkafka producer in Go (cgo), with no reload logic at all:
// the app libcertswap-preload.so must serve unchanged (test_preload_reload.py).
// It mirrors plain_producer.py:
//
//	go-static-producer --bootstrap H:P --topic T --rate N --dir D
//
// It streams numbered messages until SIGTERM, with ssl.ca.location,
// ssl.certificate.location and ssl.key.location in D. Stdout is JSON lines:
// started (first delivery), summary {sent, failed}.
package main

/*
#include <librdkafka/rdkafka.h>
#include <stdlib.h>

static long delivered, failed;

static void on_delivery(rd_kafka_t* rk, const rd_kafka_message_t* m, void* opaque) {
  (void)rk;
  (void)opaque;
  __atomic_add_fetch(m->err ? &failed : &delivered, 1, __ATOMIC_RELAXED);
}

static void set_delivery_callback(rd_kafka_conf_t* conf) {
  rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
}

static long delivered_count(void) { return __atomic_load_n(&delivered, __ATOMIC_RELAXED); }
static long failed_count(void) { return __atomic_load_n(&failed, __ATOMIC_RELAXED); }
*/
import "C"

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
	"unsafe"
)

func emit(event map[string]any) {
	line, _ := json.Marshal(event)
	fmt.Println(string(line))
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "go-static-producer: "+format+"\n", args...)
	os.Exit(1)
}

func set(conf *C.rd_kafka_conf_t, name, value string) {
	cname, cvalue := C.CString(name), C.CString(value)
	defer C.free(unsafe.Pointer(cname))
	defer C.free(unsafe.Pointer(cvalue))
	var errstr [512]C.char
	if C.rd_kafka_conf_set(conf, cname, cvalue, &errstr[0], C.size_t(len(errstr))) != C.RD_KAFKA_CONF_OK {
		fail("setting %s: %s", name, C.GoString(&errstr[0]))
	}
}

func main() {
	bootstrap := flag.String("bootstrap", "", "host:port of the brokers")
	topic := flag.String("topic", "", "topic to produce to")
	rate := flag.Int("rate", 200, "messages per second")
	dir := flag.String("dir", "", "directory holding ca.pem, service.cert, service.key")
	flag.Parse()
	if *bootstrap == "" || *topic == "" || *dir == "" || *rate <= 0 {
		fail("--bootstrap, --topic, --dir and a positive --rate are required")
	}

	conf := C.rd_kafka_conf_new()
	for _, kv := range [][2]string{
		{"bootstrap.servers", *bootstrap},
		{"security.protocol", "ssl"},
		{"ssl.ca.location", filepath.Join(*dir, "ca.pem")},
		{"ssl.certificate.location", filepath.Join(*dir, "service.cert")},
		{"ssl.key.location", filepath.Join(*dir, "service.key")},
		{"enable.idempotence", "true"},
		{"acks", "all"},
		{"reconnect.backoff.ms", "100"},
	} {
		set(conf, kv[0], kv[1])
	}
	C.set_delivery_callback(conf)
	var errstr [512]C.char
	rk := C.rd_kafka_new(C.RD_KAFKA_PRODUCER, conf, &errstr[0], C.size_t(len(errstr)))
	if rk == nil {
		fail("creating the producer: %s", C.GoString(&errstr[0]))
	}
	ctopic := C.CString(*topic)
	rkt := C.rd_kafka_topic_new(rk, ctopic, nil)
	C.free(unsafe.Pointer(ctopic))
	if rkt == nil {
		fail("topic %s: %s", *topic, C.GoString(C.rd_kafka_err2str(C.rd_kafka_last_error())))
	}

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM)
	refused := 0 // refused at once (e.g. a full queue): lost, go on
	sent, started, start := 0, false, time.Now()
	for running := true; running; {
		select {
		case <-stop:
			running = false
		default:
		}
		for running && time.Duration(sent)*time.Second/time.Duration(*rate) <= time.Since(start) {
			key := []byte(fmt.Sprintf("k%d", sent%4))
			value := []byte(fmt.Sprint(sent))
			if C.rd_kafka_produce(rkt, C.RD_KAFKA_PARTITION_UA, C.RD_KAFKA_MSG_F_COPY,
				unsafe.Pointer(&value[0]), C.size_t(len(value)),
				unsafe.Pointer(&key[0]), C.size_t(len(key)), nil) != 0 {
				refused++
			}
			sent++
		}
		C.rd_kafka_poll(rk, 5)
		if !started && C.delivered_count() > 0 {
			started = true
			emit(map[string]any{"event": "started"})
		}
	}
	C.rd_kafka_flush(rk, 30000)
	left := int(C.rd_kafka_outq_len(rk))
	emit(map[string]any{"event": "summary", "sent": sent, "failed": refused + int(C.failed_count()) + left})
	C.rd_kafka_topic_destroy(rkt)
	C.rd_kafka_destroy(rk)
}
