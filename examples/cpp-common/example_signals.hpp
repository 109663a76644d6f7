#pragma once
// SIGTERM/SIGINT (stop) and SIGHUP (certswap's "a new set is live") as flags
// the examples' loops poll; shared by the two C++ examples.
#include <signal.h>

#include <csignal>

namespace example {

inline volatile std::sig_atomic_t g_stop = 0;
inline volatile std::sig_atomic_t g_hup = 0;

inline void catch_signals() {
  struct sigaction sa {};
  sa.sa_handler = [](int sig) { (sig == SIGHUP ? g_hup : g_stop) = 1; };
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGHUP, &sa, nullptr);
}

}  // namespace example
