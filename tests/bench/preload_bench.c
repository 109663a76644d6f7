/* Cost of libcertswap-preload.so per new TLS connection: SSL_new + SSL_free
 * in a loop, and a full TLS 1.3 handshake over an in-process BIO pair (no
 * network, so the library's share is not hidden by I/O). Run through
 * preload-bench.sh with and without LD_PRELOAD; prints one Markdown row.
 * argv: <label> <out-dir> <pki-dir> */
#define _GNU_SOURCE
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int accept_any(X509_STORE_CTX* x, void* arg) {
  (void)x;
  (void)arg;
  return 1;
}

/* After the context is built, as a rotation would: new SSLs get generation 2. */
static void swap_to_second(const char* out) {
  char tmp[4096], data[4096];
  snprintf(tmp, sizeof tmp, "%s/..data_tmp", out);
  snprintf(data, sizeof data, "%s/..data", out);
  unlink(tmp);
  if (symlink("..2026_01_01_00_00_02.000000000", tmp) != 0 || rename(tmp, data) != 0) exit(2);
}

static SSL_CTX* make_ctx(const SSL_METHOD* m, const char* cert, const char* key) {
  SSL_CTX* ctx = SSL_CTX_new(m);
  if (!ctx || SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
    ERR_print_errors_fp(stderr);
    exit(2);
  }
  return ctx;
}

static void handshake(SSL_CTX* cctx, SSL_CTX* sctx) {
  SSL* c = SSL_new(cctx);
  SSL* s = SSL_new(sctx);
  BIO *cb, *sb;
  BIO_new_bio_pair(&cb, 0, &sb, 0);
  SSL_set_bio(c, cb, cb);
  SSL_set_bio(s, sb, sb);
  SSL_set_connect_state(c);
  SSL_set_accept_state(s);
  for (int i = 0; i < 20; i++) {
    int rc = SSL_do_handshake(c), rs = SSL_do_handshake(s);
    if (rc == 1 && rs == 1) break;
  }
  if (!SSL_is_init_finished(c) || !SSL_is_init_finished(s)) {
    fprintf(stderr, "handshake did not finish\n");
    exit(2);
  }
  SSL_free(c);
  SSL_free(s);
}

int main(int argc, char** argv) {
  if (argc != 4) return 2;
  char cert[4096], key[4096], scert[4096], skey[4096];
  snprintf(cert, sizeof cert, "%s/service.cert", argv[2]);
  snprintf(key, sizeof key, "%s/service.key", argv[2]);
  snprintf(scert, sizeof scert, "%s/leafX.pem", argv[3]);
  snprintf(skey, sizeof skey, "%s/leafX.key", argv[3]);
  SSL_CTX* cctx = make_ctx(TLS_client_method(), cert, key);
  SSL_CTX* sctx = make_ctx(TLS_server_method(), scert, skey);
  /* The server asks for the client certificate, so the one the library set is sent. */
  SSL_CTX_set_verify(sctx, SSL_VERIFY_PEER, NULL);
  SSL_CTX_set_cert_verify_callback(sctx, accept_any, NULL);
  swap_to_second(argv[2]);

  enum { N_NEW = 20000, N_HS = 1000 };
  double t = now_ns();
  for (int i = 0; i < N_NEW; i++) SSL_free(SSL_new(cctx));
  double per_new = (now_ns() - t) / N_NEW;
  t = now_ns();
  for (int i = 0; i < N_NEW; i++) SSL_free(SSL_new(sctx));
  double per_other = (now_ns() - t) / N_NEW;
  t = now_ns();
  for (int i = 0; i < N_HS; i++) handshake(cctx, sctx);
  double per_hs = (now_ns() - t) / N_HS;
  printf("| %s | %.2f | %.2f | %.1f |\n", argv[1], per_new / 1000, per_other / 1000, per_hs / 1000);
  SSL_CTX_free(cctx);
  SSL_CTX_free(sctx);
  return 0;
}
