/* A library found only through dlopen_caller's RUNPATH (dlopen_caller.c). */
int preload_dlopen_target(void) {
  return 42;
}
