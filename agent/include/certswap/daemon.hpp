#pragma once
// `certswap run`: the sidecar loop. One thread sleeps in epoll over a timerfd
// (the next due check), a signalfd (SIGHUP: check now; SIGTERM/SIGINT: finish
// the rotation in flight and exit), an inotify fd (someone touched a live set)
// and an eventfd (POST /rotate). Idle means asleep.
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "certswap/rotation.hpp"

namespace certswap {

struct DaemonOptions {
  std::chrono::seconds poll_interval{600};
  // While the live certificate ends within renewal_window, Aiven may publish
  // the renewal any moment: poll faster then.
  std::chrono::seconds renewal_poll_interval{120};
  std::chrono::seconds renewal_window{std::chrono::hours(24 * 100)};
  // /readyz fails when a live certificate ends within this window.
  std::chrono::seconds danger_window{std::chrono::hours(24 * 7)};
  std::chrono::seconds max_backoff{900};
  std::string listen = "127.0.0.1:9464";  // empty: no HTTP endpoint
  bool rotate_endpoint = false;
  std::function<double()> jitter;  // [0,1); default random
};

int run_daemon(std::vector<Target>& targets, const DaemonOptions& options, StepReporter& printer);

}  // namespace certswap
