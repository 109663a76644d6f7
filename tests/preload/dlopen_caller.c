/* The preload library interposes dlopen (static_librdkafka.c); glibc resolves
 * a bare name through the *caller's* RUNPATH and "$ORIGIN" from the caller's
 * directory. This program finds its library only that way, so with the
 * preload library active both opens still work only if the app stays the
 * caller. Exit 0 when both opens work. */
#include <dlfcn.h>
#include <stdio.h>

static int open_and_call(const char* name) {
  void* h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    fprintf(stderr, "dlopen(\"%s\") failed: %s\n", name, dlerror());
    return 1;
  }
  int (*f)(void) = (int (*)(void))dlsym(h, "preload_dlopen_target");
  int ok = f && f() == 42;
  dlclose(h);
  if (!ok) fprintf(stderr, "dlopen(\"%s\"): preload_dlopen_target missing\n", name);
  return !ok;
}

int main(void) {
  return open_and_call("libpreload_dlopen_target.so") |
         open_and_call("$ORIGIN/dlopen-lib/libpreload_dlopen_target.so");
}
