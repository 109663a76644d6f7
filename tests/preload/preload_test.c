/* Drives real OpenSSL the way librdkafka does (one SSL_CTX built from the
 * certswap output directory, one SSL_new per connection) while it swaps the
 * directory's ..data link itself, and checks which certificate each SSL would
 * present. run.sh builds the directory and runs it with and without the
 * preload library; argv: <case> <out-dir> <pki-dir> <reload|none>. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static const char* out_dir;
static const char* pki_dir;
static int failures;

/* The generation names run.sh creates. */
static const char* const gens[] = {
    "..2026_01_01_00_00_01.000000000", "..2026_01_01_00_00_02.000000000",
    "..2026_01_01_00_00_03.000000000", "..2026_01_01_00_00_04.000000000"};

static void die(const char* what) {
  fprintf(stderr, "preload_test: %s\n", what);
  ERR_print_errors_fp(stderr);
  exit(2);
}

static void swap_to(int gen) {
  char tmp[4096], data[4096];
  snprintf(tmp, sizeof tmp, "%s/..data_tmp", out_dir);
  snprintf(data, sizeof data, "%s/..data", out_dir);
  unlink(tmp);
  if (symlink(gens[gen], tmp) != 0 || rename(tmp, data) != 0) die("swap failed");
}

static X509* read_cert(const char* name) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", pki_dir, name);
  FILE* f = fopen(path, "r");
  if (!f) die(path);
  X509* x = PEM_read_X509(f, NULL, NULL, NULL);
  fclose(f);
  if (!x) die(path);
  return x;
}

/* Copies pki/<key> over <gen>/service.key. */
static void copy_key(const char* key, const char* gen) {
  char from[4096], to[4096], buf[8192];
  snprintf(from, sizeof from, "%s/%s", pki_dir, key);
  snprintf(to, sizeof to, "%s/%s/service.key", out_dir, gen);
  FILE* in = fopen(from, "r");
  FILE* out = in ? fopen(to, "w") : NULL;
  if (!out) die(to);
  size_t n = fread(buf, 1, sizeof buf, in);
  if (fwrite(buf, 1, n, out) != n || fclose(out) != 0) die(to);
  fclose(in);
}

/* Which of the test's leaf certificates (A, B, C, X) the SSL presents. */
static char presented(SSL* ssl) {
  X509* have = SSL_get_certificate(ssl);
  static const char* const names[] = {"leafA.pem", "leafB.pem", "leafC.pem", "leafX.pem"};
  for (int i = 0; i < 4; i++) {
    X509* x = read_cert(names[i]);
    int same = have && X509_cmp(have, x) == 0;
    X509_free(x);
    if (same) return (char)"ABCX"[i];
  }
  return '?';
}

static void expect(const char* what, char got, char want) {
  printf("%-40s presents %c, expected %c: %s\n", what, got, want, got == want ? "ok" : "FAIL");
  if (got != want) failures++;
}

static SSL_CTX* ctx_from_files(const char* cert, const char* key) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx || SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
    die("context from files");
  return ctx;
}

static SSL_CTX* ctx_from_dir(void) {
  char cert[4096], key[4096];
  snprintf(cert, sizeof cert, "%s/service.cert", out_dir);
  snprintf(key, sizeof key, "%s/service.key", out_dir);
  return ctx_from_files(cert, key);
}

/* What librdkafka does with ssl.certificate.pem / ssl.key.pem: the PEM text
 * is parsed from memory, the context never sees a path. */
static SSL_CTX* ctx_from_memory(void) {
  char path[4096];
  static char pem[65536];
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  const char* files[] = {"service.cert", "service.key"};
  for (int i = 0; i < 2; i++) {
    snprintf(path, sizeof path, "%s/%s", out_dir, files[i]);
    FILE* f = fopen(path, "r");
    if (!f) die(path);
    size_t n = fread(pem, 1, sizeof pem, f);
    fclose(f);
    BIO* b = BIO_new_mem_buf(pem, (int)n);
    int ok;
    if (i == 0) {
      X509* x = PEM_read_bio_X509(b, NULL, NULL, NULL);
      ok = x && SSL_CTX_use_certificate(ctx, x) == 1;
      X509_free(x);
    } else {
      EVP_PKEY* k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
      ok = k && SSL_CTX_use_PrivateKey(ctx, k) == 1;
      EVP_PKEY_free(k);
    }
    BIO_free(b);
    memset(pem, 0, sizeof pem);
    if (!ok) die("context from memory");
  }
  return ctx;
}

/* Does the SSL's effective verify store (its own if set, else the context's)
 * trust the second CA? */
static int trusts_ca2(SSL* ssl) {
  X509_STORE* st = NULL;
  SSL_ctrl(ssl, SSL_CTRL_GET_VERIFY_CERT_STORE, 0, (char*)&st);
  if (!st) st = SSL_CTX_get_cert_store(SSL_get_SSL_CTX(ssl));
  X509* ca2 = read_cert("ca2.pem");
  X509_STORE_CTX* v = X509_STORE_CTX_new();
  X509_STORE_CTX_init(v, st, ca2, NULL);
  int ok = X509_verify_cert(v) == 1;
  X509_STORE_CTX_free(v);
  X509_free(ca2);
  ERR_clear_error();
  return ok;
}

/* The system call a thread of this process is in now (-1 if none or unknown). */
static long syscall_of(pid_t tid) {
  char path[64], text[64] = {0};
  snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
  FILE* f = fopen(path, "r");
  if (!f) return -1;
  long nr = -1;
  if (!fgets(text, sizeof text, f) || sscanf(text, "%ld", &nr) != 1) nr = -1;
  fclose(f);
  return nr;
}

static void wait_until_in(pid_t tid, long nr, const int* or_flag) {
  while (syscall_of(tid) != nr && !(or_flag && __atomic_load_n(or_flag, __ATOMIC_ACQUIRE)))
    usleep(1000);
}

/* The fork case's threads: one that holds the library's lock, blocked in the
 * log line it writes while it holds it (stderr is a full pipe), and one that
 * drains that pipe only once the forking thread waits for the lock or the
 * fork is done, so the fork always happens while the lock is held. */
static struct {
  SSL_CTX* ctx;
  int pipe_read;
  pid_t holder_tid, forker_tid;
  int holder_done, forked;
} fk;

static void* holder(void* arg) {
  (void)arg;
  __atomic_store_n(&fk.holder_tid, (pid_t)syscall(SYS_gettid), __ATOMIC_RELEASE);
  SSL_free(SSL_new(fk.ctx)); /* switches to generation 2 and says so */
  __atomic_store_n(&fk.holder_done, 1, __ATOMIC_RELEASE);
  return NULL;
}

static void* drainer(void* arg) {
  (void)arg;
  wait_until_in(fk.forker_tid, SYS_futex, &fk.forked);
  char buf[4096];
  while (!__atomic_load_n(&fk.holder_done, __ATOMIC_ACQUIRE)) {
    struct pollfd p = {fk.pipe_read, POLLIN, 0};
    if (poll(&p, 1, 10) > 0 && read(fk.pipe_read, buf, sizeof buf) < 0 && errno != EINTR) break;
  }
  return NULL;
}

/* stderr becomes a pipe with no room left; returns the old stderr. */
static int full_stderr(void) {
  int fds[2];
  int saved = dup(STDERR_FILENO);
  if (saved < 0 || pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) die("pipe");
  static const char filler[4096];
  while (write(fds[1], filler, sizeof filler) > 0 || errno == EINTR) {
  }
  if (errno != EAGAIN || dup2(fds[1], STDERR_FILENO) < 0) die("filling the pipe");
  /* Writes block again (the flag belongs to the pipe, shared by both fds). */
  fcntl(STDERR_FILENO, F_SETFL, fcntl(STDERR_FILENO, F_GETFL) & ~O_NONBLOCK);
  close(fds[1]);
  fk.pipe_read = fds[0];
  return saved;
}

int main(int argc, char** argv) {
  if (argc != 5) die("usage: preload_test <case> <out-dir> <pki-dir> <reload|none>");
  const char* which = argv[1];
  out_dir = argv[2];
  pki_dir = argv[3];
  int reload = strcmp(argv[4], "reload") == 0;
  swap_to(0);

  if (strcmp(which, "swap") == 0 || strcmp(which, "in-memory-pem") == 0) {
    SSL_CTX* ctx = which[0] == 's' ? ctx_from_dir() : ctx_from_memory();
    SSL* before = SSL_new(ctx);
    expect("first connection", presented(before), 'A');
    swap_to(1);
    SSL* after = SSL_new(ctx);
    expect("new connection after the swap", presented(after), reload ? 'B' : 'A');
    expect("open connection after the swap", presented(before), 'A');
    swap_to(3);
    SSL* again = SSL_new(ctx);
    expect("new connection after a second swap", presented(again), reload ? 'C' : 'A');
    SSL_free(before);
    SSL_free(after);
    SSL_free(again);
    SSL_CTX_free(ctx);
  } else if (strcmp(which, "refused-generation") == 0) {
    SSL_CTX* ctx = ctx_from_dir();
    swap_to(1);
    SSL* s = SSL_new(ctx);
    expect("new connection after the swap", presented(s), reload ? 'B' : 'A');
    SSL_free(s);
    swap_to(2); /* its service.key belongs to another certificate */
    for (int i = 0; i < 5; i++) {
      s = SSL_new(ctx);
      expect("new connection, broken generation live", presented(s), reload ? 'B' : 'A');
      SSL_free(s);
      /* Mended in place after its refusal: read again, it would be taken. */
      if (i == 0) copy_key("leafC.key", gens[2]);
    }
    swap_to(3);
    s = SSL_new(ctx);
    expect("new connection after a good generation", presented(s), reload ? 'C' : 'A');
    SSL_free(s);
    SSL_CTX_free(ctx);
  } else if (strcmp(which, "foreign-context") == 0) {
    char cert[4096], key[4096];
    snprintf(cert, sizeof cert, "%s/leafX.pem", pki_dir);
    snprintf(key, sizeof key, "%s/leafX.key", pki_dir);
    SSL_CTX* ours = ctx_from_dir();
    SSL_CTX* other = ctx_from_files(cert, key);
    swap_to(1);
    SSL* a = SSL_new(ours);
    SSL* b = SSL_new(other);
    expect("directory's context after the swap", presented(a), reload ? 'B' : 'A');
    expect("other context after the swap", presented(b), 'X');
    SSL_free(a);
    SSL_free(b);
    SSL_CTX_free(ours);
    SSL_CTX_free(other);
  } else if (strcmp(which, "ca-reload") == 0) {
    char ca[4096];
    snprintf(ca, sizeof ca, "%s/ca.pem", out_dir);
    SSL_CTX* ctx = ctx_from_dir();
    if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) die("ca.pem");
    SSL* before = SSL_new(ctx);
    expect("first connection trusts CA 2", trusts_ca2(before) ? 'y' : 'n', 'n');
    swap_to(1); /* ca.pem of generation 2 is CA 2 */
    SSL* after = SSL_new(ctx);
    expect("new connection trusts CA 2", trusts_ca2(after) ? 'y' : 'n', reload ? 'y' : 'n');
    expect("open connection trusts CA 2", trusts_ca2(before) ? 'y' : 'n', 'n');
    SSL_free(before);
    SSL_free(after);
    SSL_CTX_free(ctx);
  } else if (strcmp(which, "transient-error") == 0) {
    SSL_CTX* ctx = ctx_from_dir();
    swap_to(1);
    SSL* s = SSL_new(ctx);
    expect("new connection after the swap", presented(s), reload ? 'B' : 'A');
    SSL_free(s);
    swap_to(3);
    /* No fd left: the library cannot open generation 4's files (EMFILE). */
    struct rlimit saved, none;
    if (getrlimit(RLIMIT_NOFILE, &saved) != 0) die("getrlimit");
    int lowest_free = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (lowest_free < 0) die("/dev/null");
    close(lowest_free);
    none = saved;
    none.rlim_cur = (rlim_t)lowest_free;
    if (setrlimit(RLIMIT_NOFILE, &none) != 0) die("setrlimit");
    SSL* starved = SSL_new(ctx);
    if (setrlimit(RLIMIT_NOFILE, &saved) != 0) die("setrlimit");
    expect("new connection while out of fds", presented(starved), reload ? 'B' : 'A');
    SSL_free(starved);
    /* The cause is gone: the next connection reads generation 4 (run.sh sets
     * no delay between tries). */
    s = SSL_new(ctx);
    expect("new connection with fds again", presented(s), reload ? 'C' : 'A');
    SSL_free(s);
    SSL_CTX_free(ctx);
  } else if (strcmp(which, "fork-child") == 0) {
    /* A thread holds the library's lock while the main thread forks. */
    fk.ctx = ctx_from_dir();
    SSL_free(SSL_new(fk.ctx)); /* generation 1 live */
    fk.forker_tid = (pid_t)syscall(SYS_gettid);
    int saved_stderr = -1;
    pthread_t h, d;
    swap_to(1);
    if (reload) {
      saved_stderr = full_stderr();
      pthread_create(&h, NULL, holder, NULL);
      while (!__atomic_load_n(&fk.holder_tid, __ATOMIC_ACQUIRE)) usleep(1000);
      /* Blocked in write() inside the library: its lock is held. */
      wait_until_in(fk.holder_tid, SYS_write, NULL);
      pthread_create(&d, NULL, drainer, NULL);
    }
    pid_t pid = fork();
    if (pid == 0) {
      alarm(10); /* a child that inherited a held lock would hang here */
      SSL* s = SSL_new(fk.ctx);
      char got = presented(s);
      printf("%-40s presents %c, expected %c: %s\n", "new connection in a forked child", got,
             reload ? 'B' : 'A', got == (reload ? 'B' : 'A') ? "ok" : "FAIL");
      fflush(stdout);
      _exit(got == (reload ? 'B' : 'A') ? 0 : 1);
    }
    __atomic_store_n(&fk.forked, 1, __ATOMIC_RELEASE);
    int status = 0;
    waitpid(pid, &status, 0);
    if (reload) {
      pthread_join(h, NULL);
      pthread_join(d, NULL);
      dup2(saved_stderr, STDERR_FILENO);
      close(saved_stderr);
      close(fk.pipe_read);
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      printf("%-40s %s\n", "forked child", "FAIL (hung or wrong certificate)");
      failures++;
    }
    SSL_CTX_free(fk.ctx);
  } else if (strncmp(which, "inactive-", 9) == 0) {
    /* run.sh points CERTSWAP_RELOAD_DIR elsewhere: nothing to serve, and
     * the library says so once, whatever the number of connections. */
    SSL_CTX* ctx = ctx_from_dir();
    const int swaps[] = {1, 3};
    for (int i = 0; i < 2; i++) {
      swap_to(swaps[i]);
      SSL* s = SSL_new(ctx);
      expect("new connection, library inactive", presented(s), 'A');
      SSL_free(s);
    }
    SSL_CTX_free(ctx);
  } else {
    die("unknown case");
  }
  return failures ? 1 : 0;
}
