#pragma once
// `certswap run`: the sidecar loop. One thread sleeps in epoll over a timerfd
// (the next due check), a signalfd (SIGHUP: check now; SIGTERM/SIGINT: finish
// the rotation in flight and exit), an inotify fd (someone touched a live set)
// and an eventfd (POST /rotate, and a check finished). Idle means asleep.
// The checks themselves run on a pool of worker threads, several targets at
// once: a slow or hung target holds one worker for its own bound, the others
// go on. /healthz and WATCHDOG=1 follow the loop's progress and every check
// in flight: they fail once one runs past its bound.
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "certswap/api_budget.hpp"
#include "certswap/leadership.hpp"
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
  // API requests in flight at once: the bound of the API budget, given to it
  // by whoever builds the client (agent_setup.cpp); here it sizes the pool.
  int concurrency = 8;
  int live_concurrency = 4;           // broker handshakes at once (live validations)
  std::shared_ptr<ApiBudget> budget;  // shown in /metrics when set
  // The loop hands out a batch of checks: the API client asks project CAs afresh.
  std::function<void()> on_pass;
  // Several replicas: checks run only while this one leads (a Kubernetes
  // Lease); none: always.
  std::shared_ptr<Leadership> leadership;
};

// The longest one check of `target` may take without being stuck, and so the
// bound /healthz and the systemd watchdog hold a check to: the writer lock
// twice (a repair, then the rotation), upstream with every retry (the
// source's upstream_bound), the broker (live_timeout), each notifier (counted
// as the HTTP notifier's worst case, its retries included: the slowest kind),
// and 30 s of local work. About 17 minutes with the defaults.
std::chrono::milliseconds check_bound(const Target& target);

int run_daemon(std::vector<Target>& targets, const DaemonOptions& options, StepReporter& printer);

}  // namespace certswap
