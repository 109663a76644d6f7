/* Cost of libcertswap-preload.so's static path (static_librdkafka.c) in a
 * librdkafka with OpenSSL linked in (PyPI's wheel): the time dlopen takes
 * (with the library: recognition and patching), and per new connection the
 * call librdkafka's broker transport makes in place of SSL_new, followed by
 * the static SSL_free. That call is taken from the code as it is in memory:
 * without the library it is the static SSL_new, with it the trampoline the
 * hook put there. Run through preload-bench.sh with and without LD_PRELOAD;
 * prints one Markdown row.
 * argv: <label> <librdkafka> <out-dir> <pki-dir> */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void die(const char* what) {
  fprintf(stderr, "preload_static_bench: %s\n", what);
  exit(2);
}

/* A defined function's value and size from the file's .symtab. */
static int lookup(const unsigned char* file, size_t n, const char* name, uint64_t* value,
                  uint64_t* size) {
  const Elf64_Ehdr* eh = (const Elf64_Ehdr*)file;
  if (n < sizeof *eh || eh->e_shoff + (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr) > n) return 0;
  const Elf64_Shdr* sh = (const Elf64_Shdr*)(file + eh->e_shoff);
  for (size_t i = 0; i < eh->e_shnum; i++) {
    if (sh[i].sh_type != SHT_SYMTAB || sh[i].sh_link >= eh->e_shnum) continue;
    const Elf64_Sym* sym = (const Elf64_Sym*)(file + sh[i].sh_offset);
    const char* names = (const char*)(file + sh[sh[i].sh_link].sh_offset);
    for (size_t k = 0; k < sh[i].sh_size / sizeof *sym; k++)
      if (ELF64_ST_TYPE(sym[k].st_info) == STT_FUNC && sym[k].st_shndx != SHN_UNDEF &&
          strcmp(names + sym[k].st_name, name) == 0) {
        *value = sym[k].st_value;
        *size = sym[k].st_size;
        return 1;
      }
  }
  return 0;
}

struct object {
  const unsigned char* file;
  size_t n;
  uintptr_t bias, lo, hi;
};

static void* function(const struct object* o, const char* name, uint64_t* size) {
  uint64_t value = 0, sz = 0;
  if (!lookup(o->file, o->n, name, &value, &sz)) die(name);
  if (size) *size = sz;
  return (void*)(o->bias + value);
}

static int span(struct dl_phdr_info* info, size_t size, void* data) {
  (void)size;
  struct object* o = data;
  if (info->dlpi_addr != o->bias) return 0;
  for (size_t i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr)* ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD) continue;
    if (info->dlpi_addr + ph->p_vaddr < o->lo) o->lo = info->dlpi_addr + ph->p_vaddr;
    if (info->dlpi_addr + ph->p_vaddr + ph->p_memsz > o->hi)
      o->hi = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
  }
  return 1;
}

typedef void* (*new_fn)(void*);

/* What the broker transport's call to SSL_new reaches now: the static SSL_new,
 * or a target outside the object (the hook's trampoline). */
static new_fn transport_call(const struct object* o, const unsigned char* code, uint64_t len,
                             uintptr_t ssl_new, const char** kind) {
  new_fn found = NULL;
  int n = 0;
  for (uint64_t i = 0; i + 5 <= len; i++) {
    if (code[i] != 0xE8) continue;
    int32_t rel;
    memcpy(&rel, code + i + 1, sizeof rel);
    const uintptr_t target = (uintptr_t)code + i + 5 + (uintptr_t)(intptr_t)rel;
    if (target == ssl_new || target < o->lo || target >= o->hi) {
      found = (new_fn)target;
      *kind = target == ssl_new ? "SSL_new" : "trampoline";
      n++;
    }
  }
  if (n != 1) die("not exactly one call to SSL_new or out of the object in the transport");
  return found;
}

static void swap_to_second(const char* out) {
  char tmp[4096], data[4096];
  snprintf(tmp, sizeof tmp, "%s/..data_tmp", out);
  snprintf(data, sizeof data, "%s/..data", out);
  unlink(tmp);
  if (symlink("..2026_01_01_00_00_02.000000000", tmp) != 0 || rename(tmp, data) != 0)
    die("swap ..data");
}

int main(int argc, char** argv) {
  if (argc != 5) return 2;
  double t = now_ns();
  void* handle = dlopen(argv[2], RTLD_NOW | RTLD_LOCAL);
  const double load_ms = (now_ns() - t) / 1e6;
  if (!handle) die(dlerror());

  struct object o = {.lo = UINTPTR_MAX};
  struct link_map* lm = NULL;
  if (dlinfo(handle, RTLD_DI_LINKMAP, &lm) != 0) die("dlinfo");
  o.bias = lm->l_addr;
  dl_iterate_phdr(span, &o);
  int fd = open(argv[2], O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) die("open the library");
  o.n = (size_t)st.st_size;
  o.file = mmap(NULL, o.n, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (o.file == MAP_FAILED) die("map the library");

  void* (*client_method)(void) = (void* (*)(void))function(&o, "TLS_client_method", NULL);
  void* (*ctx_new)(void*) = (void* (*)(void*))function(&o, "SSL_CTX_new", NULL);
  int (*use_chain)(void*, const char*) =
      (int (*)(void*, const char*))function(&o, "SSL_CTX_use_certificate_chain_file", NULL);
  int (*use_key)(void*, const char*, int) =
      (int (*)(void*, const char*, int))function(&o, "SSL_CTX_use_PrivateKey_file", NULL);
  void (*ssl_free)(void*) = (void (*)(void*))function(&o, "SSL_free", NULL);
  void* ssl_new = function(&o, "SSL_new", NULL);
  uint64_t len = 0;
  const unsigned char* transport = function(&o, "rd_kafka_transport_ssl_connect", &len);
  const char* kind = NULL;
  new_fn call = transport_call(&o, transport, len, (uintptr_t)ssl_new, &kind);

  char cert[4096], key[4096], other_cert[4096], other_key[4096];
  snprintf(cert, sizeof cert, "%s/service.cert", argv[3]);
  snprintf(key, sizeof key, "%s/service.key", argv[3]);
  snprintf(other_cert, sizeof other_cert, "%s/leafX.pem", argv[4]);
  snprintf(other_key, sizeof other_key, "%s/leafX.key", argv[4]);
  void* dir_ctx = ctx_new(client_method());
  void* other_ctx = ctx_new(client_method());
  if (!dir_ctx || !other_ctx || use_chain(dir_ctx, cert) != 1 ||
      use_key(dir_ctx, key, 1 /* PEM */) != 1 || use_chain(other_ctx, other_cert) != 1 ||
      use_key(other_ctx, other_key, 1) != 1)
    die("build the contexts with the library's own OpenSSL");
  /* As a rotation would: new connections of the directory's context get generation 2. */
  swap_to_second(argv[3]);

  enum { N_NEW = 20000 };
  t = now_ns();
  for (int i = 0; i < N_NEW; i++) ssl_free(call(dir_ctx));
  const double per_dir = (now_ns() - t) / N_NEW;
  t = now_ns();
  for (int i = 0; i < N_NEW; i++) ssl_free(call(other_ctx));
  const double per_other = (now_ns() - t) / N_NEW;
  printf("| %s | %s | %.1f | %.2f | %.2f |\n", argv[1], kind, load_ms, per_dir / 1000,
         per_other / 1000);
  return 0;
}
