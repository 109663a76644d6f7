//go:build !dynamic

package main

// confluent-kafka-go's default layout: librdkafka, and the OpenSSL inside it,
// linked into the executable (Debian's archives here; its other dependencies
// stay shared, as Debian ships no static lz4, zstd or sasl2).

// #cgo LDFLAGS: -Wl,-Bstatic -lrdkafka -lssl -lcrypto -Wl,-Bdynamic -l:liblz4.so.1 -l:libzstd.so.1 -l:libsasl2.so.2 -lz -lm -ldl -lpthread -lrt
import "C"
