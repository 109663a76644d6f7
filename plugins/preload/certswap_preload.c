/* libcertswap-preload.so: each new SSL of an unmodified OpenSSL-3 app gets the
 * certificate, chain and key of the live generation of a certswap output
 * directory, when the SSL's context was built from that directory.
 *
 * Why SSL_new: librdkafka (and kcat, python3-confluent-kafka on top of it)
 * builds one SSL_CTX at start and calls SSL_new per broker connection, so
 * overriding the certificate on the SSL (not the context) switches new
 * connections only, and open connections keep the certificate they
 * authenticated with.
 *
 * The library links libc only and finds OpenSSL in the process at run time;
 * without OpenSSL 3 there it passes every call through and does nothing. */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

/* The version node every symbol of Debian's (and upstream's) libssl.so.3 and
 * libcrypto.so.3 carries; asking for it never binds to an OpenSSL 1.1. */
#define OSSL_VERSION "OPENSSL_3.0.0"
#define FP_LEN 32    /* SHA-256 */
#define MAX_KNOWN 64 /* leaf certificates remembered (live + earlier) */
#define MAX_GEN_NAME 256
#define MAX_FILE (1 << 20) /* a PEM file larger than this is not one certswap wrote */
#define DEFAULT_RETRY_MS 1000

#define FN(name) static __typeof__(&name) p_##name
FN(SSL_new);
FN(OpenSSL_version_num);
FN(SSL_CTX_get0_certificate);
FN(SSL_use_cert_and_key);
FN(SSL_ctrl);
FN(X509_digest);
FN(EVP_sha256);
FN(BIO_new_mem_buf);
FN(BIO_free);
FN(PEM_read_bio_X509);
FN(PEM_read_bio_PrivateKey);
FN(X509_check_private_key);
FN(X509_free);
FN(X509_up_ref);
FN(X509_cmp);
FN(EVP_PKEY_free);
FN(X509_STORE_new);
FN(X509_STORE_add_cert);
FN(X509_STORE_free);
FN(OPENSSL_sk_new_null);
FN(OPENSSL_sk_push);
FN(OPENSSL_sk_pop_free);
FN(ERR_set_mark);
FN(ERR_pop_to_mark);
FN(ERR_peek_last_error);
#undef FN

struct cert_set {
  X509* leaf;
  EVP_PKEY* key;
  OPENSSL_STACK* chain; /* STACK_OF(X509), the certificates after the leaf */
  X509_STORE* ca;       /* from ca.pem; NULL when CA reload is off */
  unsigned char fp[FP_LEN];
};

static struct {
  int enabled;
  int reload_ca;
  int log_mode; /* 0 silent, 1 stderr, 2 syslog */
  char dir[4096];
  pthread_mutex_t lock;
  struct cert_set live;
  int have_live;
  char live_gen[MAX_GEN_NAME];
  /* A generation whose content is wrong (a key that does not match, no PEM
   * where one must be) stays refused: reading it again cannot help. */
  char refused_gen[MAX_GEN_NAME];
  /* One that could not be read (EMFILE, ENOMEM, a file still growing) is read
   * again on a new connection, at most once per retry_ms. */
  char retry_gen[MAX_GEN_NAME];
  struct timespec retry_at;
  long retry_ms;
  /* One thread reads a generation at a time, without the lock; the others
   * keep using the live set meanwhile. */
  int loading;
  X509* known[MAX_KNOWN]; /* own references */
  size_t n_known, next_known;
} g = {.lock = PTHREAD_MUTEX_INITIALIZER};

static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void log_line(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
static void log_line(const char* fmt, ...) {
  if (g.log_mode == 0) return;
  char buf[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (g.log_mode == 2) {
    syslog(LOG_NOTICE, "certswap-preload[%d]: %s", (int)getpid(), buf);
  } else {
    char line[900];
    int n = snprintf(line, sizeof line, "certswap-preload[%d]: %s\n", (int)getpid(), buf);
    if (n > 0) {
      /* One write per line, so lines of several processes never interleave. */
      ssize_t w = write(STDERR_FILENO, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
      (void)w;
    }
  }
}

/* The app's libssl/libcrypto: first the objects after this one in the global
 * lookup order, then (for a libssl a module loaded RTLD_LOCAL, as Python does
 * with extension modules) the already-loaded libraries by soname. RTLD_NOLOAD
 * never loads OpenSSL into a process that does not have it. */
static void* find(const char* name) {
  void* f = dlvsym(RTLD_NEXT, name, OSSL_VERSION);
  if (f) return f;
  static const char* const sonames[] = {"libssl.so.3", "libcrypto.so.3"};
  for (size_t i = 0; i < sizeof sonames / sizeof *sonames; i++) {
    void* h = dlopen(sonames[i], RTLD_LAZY | RTLD_NOLOAD);
    if (!h) continue;
    f = dlvsym(h, name, OSSL_VERSION);
    dlclose(h);
    if (f) return f;
  }
  return NULL;
}

static void unlock_after_fork(void) {
  pthread_mutex_unlock(&g.lock);
}
/* The thread that was reading a generation does not exist in the child. */
static void unlock_in_child(void) {
  g.loading = 0;
  pthread_mutex_unlock(&g.lock);
}
static void lock_before_fork(void) {
  pthread_mutex_lock(&g.lock);
}

static void remember_generations_on_disk(void);

/* Said once, at the first connection: the app built its context before it,
 * from files this directory did not hold then, so no context of it is one
 * this library could serve. NULL: a directory certswap writes. */
static const char* why_not_managed(const char* dir) {
  struct stat st;
  if (stat(dir, &st) != 0)
    return errno == ENOENT ? "no such directory" : "cannot read the directory";
  if (!S_ISDIR(st.st_mode)) return "not a directory";
  char link[4200], gen[MAX_GEN_NAME];
  snprintf(link, sizeof link, "%s/..data", dir);
  ssize_t n = readlink(link, gen, sizeof gen - 1);
  if (n <= 0) return "no ..data link, not a certswap output directory";
  gen[n] = '\0';
  if (strncmp(gen, "..", 2) != 0 || gen[2] < '0' || gen[2] > '9' || strchr(gen, '/'))
    return "..data does not name a certswap generation";
  return NULL;
}

static void init(void) {
#define RESOLVE(name) p_##name = (__typeof__(p_##name))find(#name)
  RESOLVE(SSL_new);
  RESOLVE(OpenSSL_version_num);
  RESOLVE(SSL_CTX_get0_certificate);
  RESOLVE(SSL_use_cert_and_key);
  RESOLVE(SSL_ctrl);
  RESOLVE(X509_digest);
  RESOLVE(EVP_sha256);
  RESOLVE(BIO_new_mem_buf);
  RESOLVE(BIO_free);
  RESOLVE(PEM_read_bio_X509);
  RESOLVE(PEM_read_bio_PrivateKey);
  RESOLVE(X509_check_private_key);
  RESOLVE(X509_free);
  RESOLVE(X509_up_ref);
  RESOLVE(X509_cmp);
  RESOLVE(EVP_PKEY_free);
  RESOLVE(X509_STORE_new);
  RESOLVE(X509_STORE_add_cert);
  RESOLVE(X509_STORE_free);
  RESOLVE(OPENSSL_sk_new_null);
  RESOLVE(OPENSSL_sk_push);
  RESOLVE(OPENSSL_sk_pop_free);
  RESOLVE(ERR_set_mark);
  RESOLVE(ERR_pop_to_mark);
  RESOLVE(ERR_peek_last_error);
#undef RESOLVE
  const char* log = getenv("CERTSWAP_RELOAD_LOG");
  if (log && strcmp(log, "stderr") == 0) g.log_mode = 1;
  if (log && strcmp(log, "syslog") == 0) g.log_mode = 2;
  const char* dir = getenv("CERTSWAP_RELOAD_DIR");
  if (!dir || !*dir || strlen(dir) >= sizeof g.dir) return;
  const char* unmanaged = why_not_managed(dir);
  if (unmanaged) {
    log_line("CERTSWAP_RELOAD_DIR=%s: %s; inactive", dir, unmanaged);
    return;
  }
  if (!p_SSL_new || !p_OpenSSL_version_num || !p_SSL_CTX_get0_certificate ||
      !p_SSL_use_cert_and_key || !p_SSL_ctrl || !p_X509_digest || !p_EVP_sha256 ||
      !p_BIO_new_mem_buf || !p_BIO_free || !p_PEM_read_bio_X509 || !p_PEM_read_bio_PrivateKey ||
      !p_X509_check_private_key || !p_X509_free || !p_X509_up_ref || !p_X509_cmp ||
      !p_EVP_PKEY_free || !p_X509_STORE_new || !p_X509_STORE_add_cert || !p_X509_STORE_free ||
      !p_OPENSSL_sk_new_null || !p_OPENSSL_sk_push || !p_OPENSSL_sk_pop_free || !p_ERR_set_mark ||
      !p_ERR_pop_to_mark || !p_ERR_peek_last_error) {
    log_line("OpenSSL 3 not found in this process; inactive");
    return;
  }
  if (p_OpenSSL_version_num() < 0x30000000UL) {
    log_line("OpenSSL older than 3 in this process; inactive");
    return;
  }
  strcpy(g.dir, dir);
  const char* ca = getenv("CERTSWAP_RELOAD_CA");
  g.reload_ca = ca && strcmp(ca, "1") == 0;
  const char* retry = getenv("CERTSWAP_RELOAD_RETRY_MS");
  char* end = NULL;
  g.retry_ms = retry && *retry ? strtol(retry, &end, 10) : DEFAULT_RETRY_MS;
  if (end && (*end || g.retry_ms < 0)) g.retry_ms = DEFAULT_RETRY_MS;
  pthread_atfork(lock_before_fork, unlock_after_fork, unlock_in_child);
  /* Here, before any SSL_new goes on: other threads wait in pthread_once. */
  p_ERR_set_mark();
  remember_generations_on_disk();
  p_ERR_pop_to_mark();
  g.enabled = 1;
}

static int fingerprint(const X509* x, unsigned char out[FP_LEN]) {
  unsigned int n = 0;
  return p_X509_digest(x, p_EVP_sha256(), out, &n) == 1 && n == FP_LEN;
}

static void fp_hex(const unsigned char fp[FP_LEN], char out[17]) {
  for (int i = 0; i < 8; i++) snprintf(out + 2 * i, 3, "%02X", fp[i]);
}

/* X509_cmp compares the cached SHA-1 and then the DER encodings: an exact
 * match, and cheap enough to run on every SSL_new. */
static int is_known(const X509* x) {
  for (size_t i = 0; i < g.n_known; i++)
    if (p_X509_cmp(g.known[i], x) == 0) return 1;
  return 0;
}

static void remember(X509* x) {
  if (is_known(x) || p_X509_up_ref(x) != 1) return;
  if (g.known[g.next_known]) p_X509_free(g.known[g.next_known]);
  g.known[g.next_known] = x;
  g.next_known = (g.next_known + 1) % MAX_KNOWN;
  if (g.n_known < MAX_KNOWN) g.n_known++;
}

static void free_set(struct cert_set* s) {
  if (s->leaf) p_X509_free(s->leaf);
  if (s->key) p_EVP_PKEY_free(s->key);
  if (s->chain) p_OPENSSL_sk_pop_free(s->chain, (void (*)(void*))p_X509_free);
  if (s->ca) p_X509_STORE_free(s->ca);
  memset(s, 0, sizeof *s);
}

static int path_in(char* out, size_t size, const char* gen, const char* file) {
  int n = snprintf(out, size, "%s/%s/%s", g.dir, gen, file);
  return n > 0 && (size_t)n < size;
}

enum load_result { LOADED, REFUSED, RETRY };

struct file_buf {
  char* data;
  size_t len;
};

static void free_file(struct file_buf* f) {
  if (f->data) {
    explicit_bzero(f->data, f->len); /* it may hold the private key */
    free(f->data);
  }
  f->data = NULL;
  f->len = 0;
}

/* The whole of gen/name, read with a close-on-exec fd of our own. A failure
 * to read is RETRY (EMFILE, ENOMEM, EIO, a file that grew or shrank while it
 * was read); only one too large to be ours is REFUSED. */
static enum load_result read_file(const char* gen, const char* name, struct file_buf* f,
                                  const char** why) {
  char path[4400];
  static __thread char reason[160];
  f->data = NULL;
  f->len = 0;
  *why = reason;
  if (!path_in(path, sizeof path, gen, name)) {
    snprintf(reason, sizeof reason, "path of %s too long", name);
    return REFUSED;
  }
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    snprintf(reason, sizeof reason, "cannot open %s: %s", name, strerror(errno));
    return RETRY;
  }
  enum load_result r = RETRY;
  struct stat st;
  if (fstat(fd, &st) != 0) {
    snprintf(reason, sizeof reason, "cannot stat %s: %s", name, strerror(errno));
  } else if (st.st_size > MAX_FILE) {
    snprintf(reason, sizeof reason, "%s is larger than %d bytes", name, MAX_FILE);
    r = REFUSED;
  } else if ((f->data = malloc((size_t)st.st_size + 1)) == NULL) {
    snprintf(reason, sizeof reason, "no memory for %s", name);
  } else {
    /* One byte more than fstat said, to see a file that is still growing. */
    size_t want = (size_t)st.st_size + 1;
    ssize_t n = 0;
    while (f->len < want &&
           ((n = read(fd, f->data + f->len, want - f->len)) > 0 || (n < 0 && errno == EINTR)))
      if (n > 0) f->len += (size_t)n;
    if (n < 0)
      snprintf(reason, sizeof reason, "cannot read %s: %s", name, strerror(errno));
    else if (f->len != (size_t)st.st_size)
      snprintf(reason, sizeof reason, "%s changed size while it was read", name);
    else
      r = LOADED;
  }
  close(fd);
  if (r != LOADED) free_file(f);
  return r;
}

/* A parse that failed for want of memory may work next time; any other parse
 * failure is the file's content. */
static enum load_result parse_failure(const char** why, const char* what) {
  *why = what;
  return ERR_GET_REASON(p_ERR_peek_last_error()) == ERR_R_MALLOC_FAILURE ? RETRY : REFUSED;
}

/* Reads service.cert (leaf, then chain), service.key and, when asked, ca.pem,
 * all from the one generation directory `gen` names, without the lock. */
static enum load_result load_set(const char* gen, struct cert_set* s, const char** why) {
  memset(s, 0, sizeof *s);
  struct file_buf f;
  enum load_result r = read_file(gen, "service.cert", &f, why);
  if (r != LOADED) return r;
  BIO* b = p_BIO_new_mem_buf(f.data, (int)f.len);
  if (b) {
    s->leaf = p_PEM_read_bio_X509(b, NULL, NULL, NULL);
    s->chain = p_OPENSSL_sk_new_null();
    X509* extra;
    while (s->leaf && s->chain && (extra = p_PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
      if (!p_OPENSSL_sk_push(s->chain, extra)) p_X509_free(extra);
    p_BIO_free(b);
  }
  free_file(&f);
  if (!b || !s->leaf || !s->chain) return parse_failure(why, "no certificate in service.cert");

  if ((r = read_file(gen, "service.key", &f, why)) != LOADED) return r;
  b = p_BIO_new_mem_buf(f.data, (int)f.len);
  /* An empty passphrase callback result: certswap writes unencrypted keys and a
   * prompt on the app's terminal must never appear. */
  if (b) s->key = p_PEM_read_bio_PrivateKey(b, NULL, NULL, (void*)"");
  if (b) p_BIO_free(b);
  free_file(&f);
  if (!s->key) return parse_failure(why, "no private key in service.key");
  if (p_X509_check_private_key(s->leaf, s->key) != 1) {
    *why = "key does not match certificate";
    return REFUSED;
  }
  if (!fingerprint(s->leaf, s->fp)) return parse_failure(why, "cannot fingerprint certificate");

  if (g.reload_ca) {
    if ((r = read_file(gen, "ca.pem", &f, why)) != LOADED) return r;
    b = p_BIO_new_mem_buf(f.data, (int)f.len);
    s->ca = b ? p_X509_STORE_new() : NULL;
    int n = 0;
    X509* c;
    while (s->ca && (c = p_PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
      n += p_X509_STORE_add_cert(s->ca, c) == 1;
      p_X509_free(c);
    }
    if (b) p_BIO_free(b);
    free_file(&f);
    if (!s->ca || n == 0) return parse_failure(why, "no certificate in ca.pem");
  }
  return LOADED;
}

/* Earlier generations still on disk: the app may have loaded one of them before
 * the first connection this library sees. A failure only means fewer known. */
static void remember_generations_on_disk(void) {
  DIR* d = opendir(g.dir);
  if (!d) return;
  struct dirent* e;
  while ((e = readdir(d)) != NULL) {
    /* certswap's generation names: "..<timestamp>" (agent/src/atomic_store.cpp) */
    if (strncmp(e->d_name, "..", 2) != 0 || e->d_name[2] < '0' || e->d_name[2] > '9') continue;
    struct file_buf f;
    const char* why;
    if (read_file(e->d_name, "service.cert", &f, &why) != LOADED) continue;
    BIO* b = p_BIO_new_mem_buf(f.data, (int)f.len);
    X509* x = b ? p_PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    if (b) p_BIO_free(b);
    free_file(&f);
    if (x) {
      remember(x);
      p_X509_free(x);
    }
  }
  closedir(d);
}

static struct timespec after_ms(long ms) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  t.tv_sec += ms / 1000;
  t.tv_nsec += (ms % 1000) * 1000000L;
  if (t.tv_nsec >= 1000000000L) {
    t.tv_sec++;
    t.tv_nsec -= 1000000000L;
  }
  return t;
}

static int is_past(struct timespec t) {
  struct timespec now = after_ms(0);
  return now.tv_sec > t.tv_sec || (now.tv_sec == t.tv_sec && now.tv_nsec >= t.tv_nsec);
}

/* Brings g.live up to the generation ..data names now: one readlink when
 * nothing changed. Takes g.lock to decide and to install, never while it
 * reads or parses files, so a slow disk holds up no other connection. */
static void refresh(void) {
  char link[4200], gen[MAX_GEN_NAME];
  snprintf(link, sizeof link, "%s/..data", g.dir);
  ssize_t n = readlink(link, gen, sizeof gen - 1);
  if (n <= 0) return;
  gen[n] = '\0';
  if (strchr(gen, '/')) return; /* certswap writes a sibling name; anything else is not ours */

  pthread_mutex_lock(&g.lock);
  int load = !g.loading && !(g.have_live && strcmp(gen, g.live_gen) == 0) &&
             strcmp(gen, g.refused_gen) != 0 &&
             !(strcmp(gen, g.retry_gen) == 0 && !is_past(g.retry_at));
  if (load) g.loading = 1;
  pthread_mutex_unlock(&g.lock);
  if (!load) return;

  struct cert_set s;
  const char* why = NULL;
  const enum load_result r = load_set(gen, &s, &why);

  pthread_mutex_lock(&g.lock);
  g.loading = 0;
  struct cert_set old = {0};
  if (r == LOADED) {
    char hex[17];
    fp_hex(s.fp, hex);
    log_line("%s generation %s (certificate sha256 %s...)", g.have_live ? "switched to" : "using",
             gen, hex);
    if (g.have_live) old = g.live;
    g.live = s;
    g.have_live = 1;
    remember(s.leaf);
    snprintf(g.live_gen, sizeof g.live_gen, "%s", gen);
    g.retry_gen[0] = '\0';
  } else if (r == REFUSED) {
    old = s;
    snprintf(g.refused_gen, sizeof g.refused_gen, "%s", gen);
    log_line("refused generation %s: %s; keeping %s", gen, why,
             g.have_live ? g.live_gen : "the app's own certificate");
  } else {
    old = s;
    /* Said once per generation; the retries are silent. */
    if (strcmp(gen, g.retry_gen) != 0)
      log_line("could not read generation %s: %s; keeping %s, trying again on a new connection",
               gen, why, g.have_live ? g.live_gen : "the app's own certificate");
    snprintf(g.retry_gen, sizeof g.retry_gen, "%s", gen);
    g.retry_at = after_ms(g.retry_ms);
  }
  pthread_mutex_unlock(&g.lock);
  /* SSL_new took its own references under the lock: what was replaced is ours alone. */
  free_set(&old);
}

__attribute__((visibility("default"))) SSL* SSL_new(SSL_CTX* ctx) {
  pthread_once(&g_once, init);
  if (!p_SSL_new) {
    errno = ENOSYS;
    return NULL;
  }
  SSL* ssl = p_SSL_new(ctx);
  if (!ssl || !g.enabled || !ctx) return ssl;
  X509* ctx_leaf = p_SSL_CTX_get0_certificate(ctx);
  if (!ctx_leaf) return ssl;
  /* Whatever this library makes OpenSSL queue is dropped; the app's own
   * queued errors stay. */
  p_ERR_set_mark();
  refresh();
  pthread_mutex_lock(&g.lock);
  if (g.have_live && is_known(ctx_leaf)) {
    if (p_X509_cmp(ctx_leaf, g.live.leaf) != 0 &&
        p_SSL_use_cert_and_key(ssl, g.live.leaf, g.live.key, (STACK_OF(X509)*)g.live.chain, 1) != 1)
      log_line("could not set generation %s on a new connection; it keeps the app's certificate",
               g.live_gen);
    if (g.live.ca) p_SSL_ctrl(ssl, SSL_CTRL_SET_VERIFY_CERT_STORE, 1, (char*)g.live.ca);
  }
  pthread_mutex_unlock(&g.lock);
  p_ERR_pop_to_mark();
  return ssl;
}
