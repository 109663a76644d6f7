//go:build dynamic

package main

// confluent-kafka-go's "-tags dynamic" layout: the system's shared
// librdkafka.so.1, which loads the shared libssl.so.3.

// #cgo LDFLAGS: -lrdkafka
import "C"
