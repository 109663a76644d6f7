/* The static-OpenSSL path of libcertswap-preload.so: see static_librdkafka.h.
 *
 * 1. Find librdkafkas: at load (the objects already mapped) and after each
 *    dlopen of a path (Python loads the wheel's extension module that way),
 *    every object not seen before whose file exports rd_kafka_version, and
 *    the main program when its .symtab defines it (confluent-kafka-go's
 *    default build links librdkafka into the executable, exporting nothing).
 * 2. Recognise one, or leave it alone and log why: an x86-64 ELF whose
 *    .symtab defines exactly one local of each OpenSSL function the hook
 *    calls and of rd_kafka_transport_ssl_connect; none of them imported (an
 *    imported SSL_new is the shared-OpenSSL case the interposition covers);
 *    the bytes of each such function in memory equal the file's (the file on
 *    disk is what is mapped); exactly one E8 rel32 call to SSL_new inside
 *    rd_kafka_transport_ssl_connect; OpenSSL_version_num() in 3.x.
 * 3. Map a trampoline page within rel32 reach of the call, holding
 *    "rsi = this library's state; jmp hooked_ssl_new", and make it R+X.
 * 4. Swap the code page holding the call for a patched copy: the copy is
 *    made R+X before mremap puts it in place in one step, so the code is never
 *    writable, never without X while another thread may run it, and any
 *    refusal (kernel, SELinux's execmem) leaves the original untouched.
 * 5. hooked_ssl_new(ctx) calls the static SSL_new and, when the context's
 *    certificate is one of the managed directory's generations (the same
 *    test as certswap_preload.c's), puts the live generation's certificate,
 *    chain and key on the new SSL with the static SSL_use_cert_and_key. A
 *    generation whose key does not match is refused. Open connections keep
 *    theirs. */
#define _GNU_SOURCE
#include "static_librdkafka.h"

#include <dirent.h>
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define MAX_SEEN 1024 /* objects examined; more than this and new ones are not */
#define MAX_HOOKED 4  /* recognised librdkafkas in one process */
#define MAX_KNOWN 64  /* leaf certificates of the directory remembered */
#define MAX_GEN_NAME 256
#define MAX_PEM (1 << 20)

/* The static functions the hook calls, with OpenSSL 3's signatures. */
/* clang-format off */
#define STATIC_FUNCTIONS(X)                                                 \
  X(SSL_new) X(SSL_CTX_get0_certificate) X(SSL_use_cert_and_key)            \
  X(OpenSSL_version_num) X(PEM_read_bio_X509) X(PEM_read_bio_PrivateKey)    \
  X(BIO_new_mem_buf) X(BIO_free) X(X509_free) X(X509_cmp) X(X509_up_ref)    \
  X(X509_check_private_key) X(EVP_PKEY_free) X(OPENSSL_sk_new_null)         \
  X(OPENSSL_sk_push) X(OPENSSL_sk_pop_free) X(ERR_set_mark) X(ERR_pop_to_mark)
/* clang-format on */
#define TRANSPORT_FUNCTION "rd_kafka_transport_ssl_connect"

struct static_ossl {
#define FIELD(name) __typeof__(&name) name;
  STATIC_FUNCTIONS(FIELD)
#undef FIELD
};

struct cert_set {
  X509* leaf;
  EVP_PKEY* key;
  OPENSSL_STACK* chain;
};

/* One recognised librdkafka. Its X509s come from its own OpenSSL and are
 * never mixed with another's. */
struct hooked {
  struct static_ossl f;
  /* Guards the fields below; never held while files are read. */
  pthread_mutex_t lock;
  int started;
  /* One thread reads a generation at a time; the others keep the live set. */
  int loading;
  struct cert_set live;
  int have_live;
  char live_gen[MAX_GEN_NAME];
  /* Wrong content (a key that does not match): reading it again cannot help. */
  char refused_gen[MAX_GEN_NAME];
  /* Could not be read: read again by a new connection after retry_at. */
  char unreadable_gen[MAX_GEN_NAME];
  struct timespec retry_at;
  X509* known[MAX_KNOWN];
  size_t n_known, next_known;
};

static struct {
  int enabled;
  int log_mode; /* 0 silent, 1 stderr, 2 syslog */
  char dir[4096];
  pthread_mutex_t scan_lock;
  uintptr_t seen[MAX_SEEN];
  size_t n_seen;
  int seen_full_logged;
  long retry_ms;
  struct hooked hooked[MAX_HOOKED];
  size_t n_hooked;
} s = {.scan_lock = PTHREAD_MUTEX_INITIALIZER};

static void log_line(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
static void log_line(const char* fmt, ...) {
  if (s.log_mode == 0) return;
  char buf[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (s.log_mode == 2) {
    syslog(LOG_NOTICE, "certswap-preload[%d]: %s", (int)getpid(), buf);
    return;
  }
  char line[900];
  int n = snprintf(line, sizeof line, "certswap-preload[%d]: %s\n", (int)getpid(), buf);
  if (n > 0) {
    ssize_t w = write(STDERR_FILENO, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    (void)w;
  }
}

size_t static_find_calls(const unsigned char* code, size_t len, unsigned long code_addr,
                         unsigned long target, size_t* offsets, size_t max) {
  size_t n = 0;
  for (size_t i = 0; i + 5 <= len; i++) {
    if (code[i] != 0xE8) continue;
    int32_t rel;
    memcpy(&rel, code + i + 1, sizeof rel);
    if (code_addr + i + 5 + (unsigned long)(long)rel != target) continue;
    if (n < max) offsets[n] = i;
    n++;
  }
  return n;
}

/* ---- the hook: runs on librdkafka's broker threads, per new connection ---- */

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

/* 0 and the whole of dir/gen/name, or -1 with errno set. */
static int read_file(const char* gen, const char* name, struct file_buf* f) {
  char path[4400];
  f->data = NULL;
  f->len = 0;
  int n = snprintf(path, sizeof path, "%s/%s/%s", s.dir, gen, name);
  if (n < 0 || (size_t)n >= sizeof path) return errno = ENAMETOOLONG, -1;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  struct stat st;
  int err = 0;
  if (fstat(fd, &st) != 0) {
    err = errno;
  } else if (st.st_size > MAX_PEM) {
    err = EFBIG;
  } else if ((f->data = malloc((size_t)st.st_size + 1)) == NULL) {
    err = ENOMEM;
  } else {
    size_t want = (size_t)st.st_size + 1;
    ssize_t r = 0;
    while (f->len < want &&
           ((r = read(fd, f->data + f->len, want - f->len)) > 0 || (r < 0 && errno == EINTR)))
      if (r > 0) f->len += (size_t)r;
    if (r < 0)
      err = errno;
    else if (f->len != (size_t)st.st_size)
      err = EAGAIN; /* changed while read */
  }
  close(fd);
  if (err) {
    free_file(f);
    errno = err;
    return -1;
  }
  return 0;
}

static X509* first_cert(struct hooked* h, const struct file_buf* f) {
  BIO* b = h->f.BIO_new_mem_buf(f->data, (int)f->len);
  X509* x = b ? h->f.PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
  if (b) h->f.BIO_free(b);
  return x;
}

static int is_known(struct hooked* h, const X509* x) {
  for (size_t i = 0; i < h->n_known; i++)
    if (h->f.X509_cmp(h->known[i], x) == 0) return 1;
  return 0;
}

static void remember(struct hooked* h, X509* x) {
  if (is_known(h, x) || h->f.X509_up_ref(x) != 1) return;
  if (h->known[h->next_known]) h->f.X509_free(h->known[h->next_known]);
  h->known[h->next_known] = x;
  h->next_known = (h->next_known + 1) % MAX_KNOWN;
  if (h->n_known < MAX_KNOWN) h->n_known++;
}

static void free_set(struct hooked* h, struct cert_set* c) {
  if (c->leaf) h->f.X509_free(c->leaf);
  if (c->key) h->f.EVP_PKEY_free(c->key);
  if (c->chain) h->f.OPENSSL_sk_pop_free(c->chain, (void (*)(void*))h->f.X509_free);
  memset(c, 0, sizeof *c);
}

/* The leaf certificates of the generations already on disk when the first
 * connection is made (the app may have loaded one of them), into `out`;
 * returns how many. certswap names them "..<digits>". Reads without the lock. */
static size_t generations_on_disk(struct hooked* h, X509* out[MAX_KNOWN]) {
  DIR* d = opendir(s.dir);
  if (!d) {
    log_line("cannot read %s: %s; no generation known yet", s.dir, strerror(errno));
    return 0;
  }
  size_t n = 0;
  struct dirent* e;
  while (n < MAX_KNOWN && (e = readdir(d)) != NULL) {
    if (strncmp(e->d_name, "..", 2) != 0 || e->d_name[2] < '0' || e->d_name[2] > '9') continue;
    struct file_buf f;
    if (read_file(e->d_name, "service.cert", &f) != 0) continue;
    X509* x = first_cert(h, &f);
    free_file(&f);
    if (x) out[n++] = x;
  }
  closedir(d);
  return n;
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

enum load_result { LOADED, REFUSED, UNREADABLE };

static enum load_result load_set(struct hooked* h, const char* gen, struct cert_set* c,
                                 const char** why) {
  memset(c, 0, sizeof *c);
  struct file_buf f;
  if (read_file(gen, "service.cert", &f) != 0) return *why = "cannot read service.cert", UNREADABLE;
  BIO* b = h->f.BIO_new_mem_buf(f.data, (int)f.len);
  if (b) {
    c->leaf = h->f.PEM_read_bio_X509(b, NULL, NULL, NULL);
    c->chain = h->f.OPENSSL_sk_new_null();
    X509* extra;
    while (c->leaf && c->chain && (extra = h->f.PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
      if (!h->f.OPENSSL_sk_push(c->chain, extra)) h->f.X509_free(extra);
    h->f.BIO_free(b);
  }
  free_file(&f);
  if (!c->leaf || !c->chain) return *why = "no certificate in service.cert", REFUSED;
  if (read_file(gen, "service.key", &f) != 0) return *why = "cannot read service.key", UNREADABLE;
  b = h->f.BIO_new_mem_buf(f.data, (int)f.len);
  /* An empty passphrase: certswap writes unencrypted keys, and a prompt on
   * the app's terminal must never appear. */
  if (b) c->key = h->f.PEM_read_bio_PrivateKey(b, NULL, NULL, (void*)"");
  if (b) h->f.BIO_free(b);
  free_file(&f);
  if (!c->key) return *why = "no private key in service.key", REFUSED;
  if (h->f.X509_check_private_key(c->leaf, c->key) != 1)
    return *why = "key does not match certificate", REFUSED;
  return LOADED;
}

/* Brings h->live up to the generation ..data names now: one readlink when
 * nothing changed. Takes h->lock to decide and to install, never while it
 * reads files, so a slow disk holds up no other connection and no fork. */
static void refresh(struct hooked* h) {
  char link[4200], gen[MAX_GEN_NAME];
  snprintf(link, sizeof link, "%s/..data", s.dir);
  ssize_t n = readlink(link, gen, sizeof gen - 1);
  if (n <= 0) return;
  gen[n] = '\0';
  if (strchr(gen, '/')) return; /* certswap writes a sibling name; anything else is not ours */

  pthread_mutex_lock(&h->lock);
  const int load = !h->loading && !(h->have_live && strcmp(gen, h->live_gen) == 0) &&
                   strcmp(gen, h->refused_gen) != 0 &&
                   !(strcmp(gen, h->unreadable_gen) == 0 && !is_past(h->retry_at));
  const int first = load && !h->started;
  if (load) h->loading = 1;
  if (first) h->started = 1;
  pthread_mutex_unlock(&h->lock);
  if (!load) return;

  X509* on_disk[MAX_KNOWN];
  const size_t n_on_disk = first ? generations_on_disk(h, on_disk) : 0;
  struct cert_set c;
  const char* why = NULL;
  const enum load_result r = load_set(h, gen, &c, &why);

  pthread_mutex_lock(&h->lock);
  h->loading = 0;
  for (size_t i = 0; i < n_on_disk; i++) remember(h, on_disk[i]);
  struct cert_set old = {0};
  const char* keeping = h->have_live ? h->live_gen : "the app's own certificate";
  if (r == LOADED) {
    log_line("%s generation %s (static librdkafka)", h->have_live ? "switched to" : "using", gen);
    if (h->have_live) old = h->live;
    h->live = c;
    h->have_live = 1;
    remember(h, c.leaf);
    snprintf(h->live_gen, sizeof h->live_gen, "%s", gen);
    h->unreadable_gen[0] = '\0';
  } else if (r == REFUSED) {
    old = c;
    snprintf(h->refused_gen, sizeof h->refused_gen, "%s", gen);
    log_line("refused generation %s: %s; keeping %s", gen, why, keeping);
  } else {
    old = c;
    /* Said once per generation; the retries are silent. */
    if (strcmp(gen, h->unreadable_gen) != 0)
      log_line("could not read generation %s: %s; keeping %s, trying again on a new connection",
               gen, why, keeping);
    snprintf(h->unreadable_gen, sizeof h->unreadable_gen, "%s", gen);
    h->retry_at = after_ms(s.retry_ms);
  }
  pthread_mutex_unlock(&h->lock);
  /* remember() took its own references; hooked_ssl_new's SSL_use_cert_and_key
   * takes its own under the lock: what was replaced is ours alone. */
  for (size_t i = 0; i < n_on_disk; i++) h->f.X509_free(on_disk[i]);
  free_set(h, &old);
}

/* Entered from the trampoline in place of the static SSL_new, with the
 * librdkafka's state in the second argument register. */
static SSL* hooked_ssl_new(SSL_CTX* ctx, struct hooked* h) {
  SSL* ssl = h->f.SSL_new(ctx);
  if (!ssl || !ctx) return ssl;
  X509* ctx_leaf = h->f.SSL_CTX_get0_certificate(ctx);
  if (!ctx_leaf) return ssl;
  /* What this hook makes OpenSSL queue is dropped; librdkafka's stays. */
  h->f.ERR_set_mark();
  refresh(h);
  pthread_mutex_lock(&h->lock);
  /* Only a context built from the managed directory: its certificate is one
   * of the directory's generations (compared by content, so in-memory PEM is
   * recognised as well as a path). Any other context (another cluster, a
   * certificate the app got elsewhere) is left as the app made it. */
  if (h->have_live && is_known(h, ctx_leaf) && h->f.X509_cmp(ctx_leaf, h->live.leaf) != 0 &&
      h->f.SSL_use_cert_and_key(ssl, h->live.leaf, h->live.key, (STACK_OF(X509)*)h->live.chain,
                                1) != 1)
    log_line("could not set generation %s on a new connection; it keeps the app's certificate",
             h->live_gen);
  pthread_mutex_unlock(&h->lock);
  h->f.ERR_pop_to_mark();
  return ssl;
}

/* ---- recognition: reads the object's file, never changes anything ---- */

struct elf_file {
  const unsigned char* p;
  size_t n;
  const Elf64_Ehdr* eh;
};

static const void* at(const struct elf_file* e, uint64_t off, uint64_t len) {
  if (off > e->n || len > e->n - off) return NULL;
  return e->p + off;
}

static const Elf64_Shdr* section(const struct elf_file* e, size_t i) {
  if (i >= e->eh->e_shnum) return NULL;
  return at(e, e->eh->e_shoff + i * sizeof(Elf64_Shdr), sizeof(Elf64_Shdr));
}

/* The symbol table of the first section of `type` and its string table. */
struct symtab {
  const Elf64_Sym* sym;
  size_t count;
  const char* str;
  size_t str_len;
};

static int find_symtab(const struct elf_file* e, uint32_t type, struct symtab* t) {
  for (size_t i = 0; i < e->eh->e_shnum; i++) {
    const Elf64_Shdr* sh = section(e, i);
    if (!sh || sh->sh_type != type) continue;
    const Elf64_Shdr* strsh = section(e, sh->sh_link);
    if (!strsh || sh->sh_entsize != sizeof(Elf64_Sym)) return 0;
    t->sym = at(e, sh->sh_offset, sh->sh_size);
    t->count = sh->sh_size / sizeof(Elf64_Sym);
    t->str = at(e, strsh->sh_offset, strsh->sh_size);
    t->str_len = strsh->sh_size;
    return t->sym && t->str;
  }
  return 0;
}

static const char* sym_name(const struct symtab* t, const Elf64_Sym* sym) {
  if (sym->st_name >= t->str_len) return "";
  const char* name = t->str + sym->st_name;
  return memchr(name, '\0', t->str_len - sym->st_name) ? name : "";
}

/* The file offset of `len` bytes at `vaddr`, which must lie in one
 * executable, non-writable PT_LOAD; -1 otherwise. */
static int64_t code_offset(const struct elf_file* e, uint64_t vaddr, uint64_t len) {
  for (size_t i = 0; i < e->eh->e_phnum; i++) {
    const Elf64_Phdr* ph = at(e, e->eh->e_phoff + i * sizeof(Elf64_Phdr), sizeof(Elf64_Phdr));
    if (!ph || ph->p_type != PT_LOAD || !(ph->p_flags & PF_X) || (ph->p_flags & PF_W)) continue;
    if (vaddr >= ph->p_vaddr && len <= ph->p_filesz && vaddr - ph->p_vaddr <= ph->p_filesz - len)
      return (int64_t)(vaddr - ph->p_vaddr + ph->p_offset);
  }
  return -1;
}

static const char* const wanted_names[] = {
#define NAME(name) #name,
    STATIC_FUNCTIONS(NAME)
#undef NAME
        TRANSPORT_FUNCTION};
#define N_WANTED (sizeof wanted_names / sizeof *wanted_names)

struct found {
  uint64_t value[N_WANTED];
  uint64_t size[N_WANTED];
  unsigned count[N_WANTED];
};

static int defines_function(const struct symtab* t, const char* name) {
  for (size_t i = 0; i < t->count; i++)
    if (t->sym[i].st_shndx != SHN_UNDEF && strcmp(sym_name(t, &t->sym[i]), name) == 0) return 1;
  return 0;
}

/* Whether the file says it is, or holds, a librdkafka and, if so, whether it
 * imports SSL_new (shared OpenSSL). A library says so by exporting
 * rd_kafka_version; the main program also by defining it in .symtab, as a Go
 * program with librdkafka linked in (confluent-kafka-go's default build) does
 * without exporting anything. */
static int is_librdkafka(const struct elf_file* e, int main_program, int* imports_ssl) {
  struct symtab dyn, all;
  if (!find_symtab(e, SHT_DYNSYM, &dyn)) return 0;
  *imports_ssl = 0;
  for (size_t i = 0; i < dyn.count; i++)
    if (dyn.sym[i].st_shndx == SHN_UNDEF && strcmp(sym_name(&dyn, &dyn.sym[i]), "SSL_new") == 0)
      *imports_ssl = 1;
  return defines_function(&dyn, "rd_kafka_version") ||
         (main_program && find_symtab(e, SHT_SYMTAB, &all) &&
          defines_function(&all, "rd_kafka_version"));
}

/* Fills `h->f` and the call site; NULL when recognised, else why not. */
static const char* recognise(const struct elf_file* e, uintptr_t bias, struct hooked* h,
                             uintptr_t* call_site) {
  if (e->eh->e_machine != EM_X86_64)
    return "not x86-64 (the hook is proven on x86-64 only; aarch64 is not)";
  struct symtab t;
  if (!find_symtab(e, SHT_SYMTAB, &t))
    return "no .symtab (stripped): the static functions cannot be found";
  struct found f = {0};
  for (size_t i = 0; i < t.count; i++) {
    const Elf64_Sym* sym = &t.sym[i];
    if (ELF64_ST_TYPE(sym->st_info) != STT_FUNC || sym->st_shndx == SHN_UNDEF) continue;
    const char* name = sym_name(&t, sym);
    for (size_t w = 0; w < N_WANTED; w++)
      if (strcmp(name, wanted_names[w]) == 0) {
        f.value[w] = sym->st_value;
        f.size[w] = sym->st_size;
        f.count[w]++;
      }
  }
  static char why[200];
  for (size_t w = 0; w < N_WANTED; w++) {
    if (f.count[w] != 1) {
      snprintf(why, sizeof why, "%s is defined %u times in .symtab, not once", wanted_names[w],
               f.count[w]);
      return why;
    }
    if (f.size[w] == 0 || f.size[w] > STATIC_MAX_FUNCTION) {
      snprintf(why, sizeof why, "%s has an unexpected size %llu", wanted_names[w],
               (unsigned long long)f.size[w]);
      return why;
    }
    int64_t off = code_offset(e, f.value[w], f.size[w]);
    if (off < 0) {
      snprintf(why, sizeof why, "%s is not in an executable segment of the file", wanted_names[w]);
      return why;
    }
    /* The file on disk must be what is mapped: a replaced or different file
     * would give wrong addresses. Position-independent code has no text
     * relocations, so the bytes are equal when it is. */
    if (memcmp((const void*)(bias + f.value[w]), e->p + off, f.size[w]) != 0) {
      snprintf(why, sizeof why, "%s in memory differs from the file on disk", wanted_names[w]);
      return why;
    }
  }
  size_t i = 0;
#define ASSIGN(name) h->f.name = (__typeof__(h->f.name))(bias + f.value[i++]);
  STATIC_FUNCTIONS(ASSIGN)
#undef ASSIGN
  const size_t transport = N_WANTED - 1;
  const uintptr_t fn = bias + f.value[transport];
  size_t sites[2];
  size_t n = static_find_calls((const unsigned char*)fn, f.size[transport], fn,
                               (unsigned long)(uintptr_t)h->f.SSL_new, sites, 2);
  if (n != 1) {
    snprintf(why, sizeof why, "%zu calls to SSL_new in %s, not exactly one", n, TRANSPORT_FUNCTION);
    return why;
  }
  *call_site = fn + sites[0];
  /* The static OpenSSL's version: a function returning a constant, and the
   * library's constructors have run. */
  unsigned long v = h->f.OpenSSL_version_num();
  if (v < 0x30000000UL || v >= 0x40000000UL) {
    snprintf(why, sizeof why, "OpenSSL version 0x%lx is not 3.x", v);
    return why;
  }
  return NULL;
}

/* ---- patching ---- */

/* A page within rel32 reach of `site` (the end of the call) holding
 * "movabs rsi, h; movabs rax, hooked_ssl_new; jmp rax", R+X; NULL if none.
 * `below_first` for the main program: its heap (brk) grows up from just above
 * it, and a page there could stop that growth. */
static void* make_trampoline(uintptr_t site_end, uintptr_t lo, uintptr_t hi, int below_first,
                             struct hooked* h) {
  const long page = sysconf(_SC_PAGESIZE);
  const intptr_t reach = INT32_MAX - 2 * page;
  for (int k = 0; k < 64; k++) {
    /* Above the object and below it in turn, a megabyte further each time. */
    const int above = (k % 2 == 0) != below_first;
    const uintptr_t below_by = (uintptr_t)(k / 2 + 1) * (1u << 20);
    const uintptr_t base = lo & ~(uintptr_t)(page - 1);
    if (!above && base < below_by + (uintptr_t)page) continue; /* under address 0 */
    uintptr_t hint =
        above ? ((hi + page - 1) & ~(uintptr_t)(page - 1)) + (uintptr_t)(k / 2) * (1u << 20)
              : base - below_by;
    unsigned char* p =
        mmap((void*)hint, (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    intptr_t d = (intptr_t)p - (intptr_t)site_end;
    if (d > reach || d < -reach) {
      munmap(p, (size_t)page);
      continue;
    }
    uint64_t state = (uint64_t)(uintptr_t)h, target = (uint64_t)(uintptr_t)&hooked_ssl_new;
    p[0] = 0x48, p[1] = 0xBE; /* movabs rsi, imm64 */
    memcpy(p + 2, &state, 8);
    p[10] = 0x48, p[11] = 0xB8; /* movabs rax, imm64 */
    memcpy(p + 12, &target, 8);
    p[20] = 0xFF, p[21] = 0xE0; /* jmp rax */
    if (mprotect(p, (size_t)page, PROT_READ | PROT_EXEC) != 0) {
      log_line("cannot make the trampoline executable: %s", strerror(errno));
      munmap(p, (size_t)page);
      return NULL;
    }
    return p;
  }
  return NULL;
}

/* Replaces the pages holding the rel32 at `rel_at` with a copy where it is
 * `rel`. 0, or -1 with the original untouched. */
static int swap_code_pages(uintptr_t rel_at, int32_t rel) {
  const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
  const uintptr_t first = rel_at & ~(page - 1);
  const size_t len = ((rel_at + 4 + page - 1) & ~(page - 1)) - first;
  unsigned char* copy = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (copy == MAP_FAILED) return -1;
  memcpy(copy, (const void*)first, len);
  memcpy(copy + (rel_at - first), &rel, sizeof rel);
  if (mprotect(copy, len, PROT_READ | PROT_EXEC) != 0 ||
      mremap(copy, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, (void*)first) == MAP_FAILED) {
    int err = errno;
    munmap(copy, len);
    errno = err;
    return -1;
  }
  return 0;
}

/* Whether the file's loadable segments are the ones mapped (same addresses,
 * sizes and permissions), so its addresses can be used on the memory. */
static int same_segments(const struct elf_file* e, const struct dl_phdr_info* info) {
  size_t in_file = 0, in_memory = 0;
  for (size_t i = 0; i < info->dlpi_phnum; i++) in_memory += info->dlpi_phdr[i].p_type == PT_LOAD;
  for (size_t i = 0; i < e->eh->e_phnum; i++) {
    const Elf64_Phdr* ph = at(e, e->eh->e_phoff + i * sizeof(Elf64_Phdr), sizeof(Elf64_Phdr));
    if (!ph) return 0;
    if (ph->p_type != PT_LOAD) continue;
    in_file++;
    int match = 0;
    for (size_t m = 0; m < info->dlpi_phnum && !match; m++) {
      const ElfW(Phdr)* mp = &info->dlpi_phdr[m];
      match = mp->p_type == PT_LOAD && mp->p_vaddr == ph->p_vaddr && mp->p_memsz == ph->p_memsz &&
              mp->p_filesz == ph->p_filesz && mp->p_flags == ph->p_flags;
    }
    if (!match) return 0;
  }
  return in_file == in_memory && in_file > 0;
}

/* Runs inside dl_iterate_phdr, under the loader's lock, so the object cannot
 * be unloaded while its memory is read. */
static void hook_object(const struct dl_phdr_info* info, const char* path, int main_program) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  struct stat st;
  void* map = MAP_FAILED;
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size >= sizeof(Elf64_Ehdr))
    map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (map == MAP_FAILED) return;
  struct elf_file e = {map, (size_t)st.st_size, map};
  int imports_ssl = 0;
  if (memcmp(e.eh->e_ident, ELFMAG, SELFMAG) != 0 || e.eh->e_ident[EI_CLASS] != ELFCLASS64 ||
      e.eh->e_ident[EI_DATA] != ELFDATA2LSB || e.eh->e_shentsize != sizeof(Elf64_Shdr) ||
      e.eh->e_phentsize != sizeof(Elf64_Phdr) || !is_librdkafka(&e, main_program, &imports_ssl)) {
    munmap(map, e.n);
    return;
  }
  struct hooked* h = s.n_hooked < MAX_HOOKED ? &s.hooked[s.n_hooked] : NULL;
  struct hooked scratch;
  memset(&scratch, 0, sizeof scratch);
  uintptr_t site = 0;
  const char* why = NULL;
  if (imports_ssl)
    why = "it uses a shared OpenSSL (the SSL_new interposition covers it)";
  else if (!h)
    why = "too many librdkafkas in this process";
  else if (!same_segments(&e, info))
    why = "the file on disk is not the one mapped (its segments differ)";
  else
    why = recognise(&e, info->dlpi_addr, &scratch, &site);
  munmap(map, e.n);
  /* The main program is named by what /proc/self/exe points at, so a log
   * says which executable had librdkafka linked in. */
  char label[4200];
  char exe[4096];
  ssize_t n = main_program ? readlink(path, exe, sizeof exe - 1) : -1;
  if (n > 0) exe[n] = '\0';
  if (main_program)
    snprintf(label, sizeof label, "librdkafka linked into the executable %s", n > 0 ? exe : path);
  else
    snprintf(label, sizeof label, "librdkafka %s", path);
  if (why) {
    log_line("%s not hooked: %s", label, why);
    return;
  }
  uintptr_t lo = UINTPTR_MAX, hi = 0;
  for (size_t i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr)* ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD) continue;
    if (info->dlpi_addr + ph->p_vaddr < lo) lo = info->dlpi_addr + ph->p_vaddr;
    if (info->dlpi_addr + ph->p_vaddr + ph->p_memsz > hi)
      hi = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
  }
  *h = scratch;
  pthread_mutex_init(&h->lock, NULL);
  void* tramp = make_trampoline(site + 5, lo, hi, main_program, h);
  if (!tramp) {
    log_line("%s not hooked: no executable page within reach of its code", label);
    return;
  }
  int32_t rel = (int32_t)((intptr_t)tramp - (intptr_t)(site + 5));
  if (swap_code_pages(site + 1, rel) != 0) {
    log_line("%s not hooked: the code page could not be replaced (%s)", label, strerror(errno));
    munmap(tramp, (size_t)sysconf(_SC_PAGESIZE));
    return;
  }
  s.n_hooked++;
  log_line(
      "%s hooked (static OpenSSL 0x%lx): new broker connections take the live "
      "generation of %s",
      label, h->f.OpenSSL_version_num(), s.dir);
}

/* ---- finding new objects ---- */

static int was_seen(uintptr_t key) {
  for (size_t i = 0; i < s.n_seen; i++)
    if (s.seen[i] == key) return 1;
  return 0;
}

static int examine(struct dl_phdr_info* info, size_t size, void* data) {
  size_t* index = data;
  const int main_program = (*index)++ == 0;
  (void)size;
  /* The key is the address of the object's program headers: unique while
   * it is mapped. An object unloaded and another loaded at the same place is
   * not examined again (Python never unloads extension modules). */
  uintptr_t key = (uintptr_t)info->dlpi_phdr;
  if (was_seen(key)) return 0;
  if (s.n_seen == MAX_SEEN) {
    if (!s.seen_full_logged)
      log_line("more than %d objects loaded; later ones not examined", MAX_SEEN);
    s.seen_full_logged = 1;
    return 0;
  }
  s.seen[s.n_seen++] = key;
  const char* name = info->dlpi_name && *info->dlpi_name ? info->dlpi_name : NULL;
  if (!name && main_program) name = "/proc/self/exe";
  if (name && name[0] == '/') hook_object(info, name, main_program);
  return 0;
}

static void scan_new_objects(void) {
  pthread_mutex_lock(&s.scan_lock);
  size_t index = 0;
  dl_iterate_phdr(examine, &index);
  pthread_mutex_unlock(&s.scan_lock);
}

/* ---- entry points ---- */

static void lock_before_fork(void) {
  pthread_mutex_lock(&s.scan_lock);
  for (size_t i = 0; i < s.n_hooked; i++) pthread_mutex_lock(&s.hooked[i].lock);
}
static void unlock_after_fork(void) {
  for (size_t i = 0; i < s.n_hooked; i++) pthread_mutex_unlock(&s.hooked[i].lock);
  pthread_mutex_unlock(&s.scan_lock);
}
/* A thread that was reading a generation does not exist in the child. */
static void unlock_in_child(void) {
  for (size_t i = 0; i < s.n_hooked; i++) s.hooked[i].loading = 0;
  unlock_after_fork();
}

__attribute__((constructor)) static void static_librdkafka_init(void) {
  const char* log = getenv("CERTSWAP_RELOAD_LOG");
  if (log && strcmp(log, "stderr") == 0) s.log_mode = 1;
  if (log && strcmp(log, "syslog") == 0) s.log_mode = 2;
  const char* dir = getenv("CERTSWAP_RELOAD_DIR");
  if (!dir || !*dir || strlen(dir) >= sizeof s.dir) return;
  const char* on = getenv("CERTSWAP_RELOAD_STATIC");
  if (on && strcmp(on, "0") == 0) {
    log_line("static librdkafka hook off (CERTSWAP_RELOAD_STATIC=0)");
    return;
  }
  strcpy(s.dir, dir);
  const char* retry = getenv("CERTSWAP_RELOAD_RETRY_MS");
  char* end = NULL;
  s.retry_ms = retry && *retry ? strtol(retry, &end, 10) : 1000;
  if (end && (*end || s.retry_ms < 0)) s.retry_ms = 1000;
  pthread_atfork(lock_before_fork, unlock_after_fork, unlock_in_child);
  s.enabled = 1;
  scan_new_objects();
}

typedef void* (*dlopen_fn)(const char*, int);

/* dlopen resolves a bare name through the caller's RUNPATH, "$ORIGIN" from
 * the caller's directory, and puts the object in the caller's namespace;
 * glibc takes the caller from the return address. So only a path without "$"
 * from a caller in the main namespace is loaded from here (where this
 * library would be the caller) and examined; anything else is a tail call
 * (this file is built with sibling calls on: CMakeLists.txt), which keeps the
 * app's return address, and is examined by the next dlopen of a path. */
static int examine_after(const char* file, void* caller) {
  if (!s.enabled || !file || !strchr(file, '/') || strchr(file, '$')) return 0;
  Dl_info info;
  struct link_map* lm = NULL;
  Lmid_t ns = -1;
  return dladdr1(caller, &info, (void**)&lm, RTLD_DL_LINKMAP) && lm &&
         dlinfo(lm, RTLD_DI_LMID, &ns) == 0 && ns == LM_ID_BASE;
}

static dlopen_fn real_dlopen(dlopen_fn* cache, const char* version) {
  if (!*cache) *cache = (dlopen_fn)dlvsym(RTLD_NEXT, "dlopen", version);
  return *cache;
}

/* Both versions of glibc's dlopen: GLIBC_2.34 (libc.so.6) for programs built
 * since, GLIBC_2.2.5 (libdl.so.2) for older ones. version.map names the
 * nodes; the references name libc's, which these match first in LD_PRELOAD
 * order. */
#define DLOPEN_WRAPPER(fn, version)                                                 \
  __attribute__((visibility("default"))) void* fn(const char* file, int mode) {     \
    static dlopen_fn real;                                                          \
    dlopen_fn next = real_dlopen(&real, version);                                   \
    if (!next) return NULL;                                                         \
    if (!examine_after(file, __builtin_return_address(0))) return next(file, mode); \
    void* handle = next(file, mode);                                                \
    if (handle) scan_new_objects();                                                 \
    return handle;                                                                  \
  }
DLOPEN_WRAPPER(certswap_dlopen_2_34, "GLIBC_2.34")
DLOPEN_WRAPPER(certswap_dlopen_2_2_5, "GLIBC_2.2.5")
__asm__(".symver certswap_dlopen_2_34, dlopen@@GLIBC_2.34");
__asm__(".symver certswap_dlopen_2_2_5, dlopen@GLIBC_2.2.5");
