/* The static-OpenSSL path of libcertswap-preload.so (static_librdkafka.c):
 * a librdkafka with OpenSSL linked in (PyPI confluent-kafka wheels, or linked
 * into a Go executable by confluent-kafka-go's default build) calls its
 * own SSL_new, which LD_PRELOAD cannot interpose, so its one broker-transport
 * call to SSL_new is redirected instead, once the library is recognised.
 *
 * Switches (read once, when the preload library is loaded):
 *   CERTSWAP_RELOAD_DIR     unset: this path does nothing, like the other
 *   CERTSWAP_RELOAD_STATIC  "0": this path does nothing; the SSL_new
 *                           interposition for shared OpenSSL is unaffected
 *   CERTSWAP_RELOAD_LOG     stderr or syslog: why a librdkafka was or was
 *                           not hooked, and each switch of generation */
#ifndef CERTSWAP_STATIC_LIBRDKAFKA_H
#define CERTSWAP_STATIC_LIBRDKAFKA_H

#include <stddef.h>

/* Longest run of code the hook compares and searches: the broker-transport
 * function is a few hundred bytes; anything far larger is not the expected
 * librdkafka and is refused. */
#define STATIC_MAX_FUNCTION 8192

/* Offsets (from the start of `code`) of every E8 rel32 call in `code` whose
 * target is `target`, where `code` is loaded at `code_addr`; returns how many
 * there are (at most `max` are stored). It reads bytes only: it is not a
 * disassembler, so it also counts an E8 inside a longer instruction whose
 * next four bytes happen to aim at `target`; the hook then refuses (more than
 * one) rather than guess. */
size_t static_find_calls(const unsigned char* code, size_t len, unsigned long code_addr,
                         unsigned long target, size_t* offsets, size_t max);

#endif
