#include <charconv>
#include <cstdlib>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <unistd.h>

#include "cli/cli.hpp"
#include "registry.hpp"

namespace certswap::cli {

Result<void> check_listen_address(const std::string& listen) {
  if (listen.empty()) return {};
  const auto colon = listen.rfind(':');
  int port = -1;
  if (colon != std::string::npos && colon > 0) {
    const char* first = listen.data() + colon + 1;
    const char* last = listen.data() + listen.size();
    auto [end, ec] = std::from_chars(first, last, port);
    if (ec != std::errc{} || end != last || first == last) port = -1;
  }
  if (port < 0 || port > 65535)
    return fail(ErrorKind::Usage,
                "--listen \"{}\" is not host:port (e.g. 127.0.0.1:9464, 0.0.0.0:9464; empty "
                "turns the endpoint off)",
                listen);
  return {};
}
// Two malloc arenas for the sidecar's threads, not glibc's eight per core:
// with an arena per worker, each one's pages stayed pinned by the few
// long-lived objects of the targets it had checked, ~30 KiB per target at
// 1,000 targets, against ~10 with two (tests/bench/targets_bench.py). The
// workers wait on the network, not on malloc. MALLOC_ARENA_MAX still wins.
static void limit_malloc_arenas() {
#ifdef __GLIBC__
  if (!std::getenv("MALLOC_ARENA_MAX")) mallopt(M_ARENA_MAX, 2);
#endif
}

// The Lease's credentials: --kubeconfig, else a Secret target's, else the
// usual search (the pod's ServiceAccount in a cluster).
static Result<std::shared_ptr<Leadership>> make_leadership(const Flags& flags,
                                                           const Config& config) {
  std::filesystem::path kubeconfig = flags.kubeconfig;
  for (const auto& t : config.targets) {
    if (kubeconfig.empty() && !t.kubeconfig.empty()) kubeconfig = t.kubeconfig;
  }
  std::string identity = flags.leader_identity;
  if (identity.empty()) {
    const char* pod = std::getenv("POD_NAME");
    char host[256] = {};
    identity = pod && *pod ? pod : (gethostname(host, sizeof host - 1) == 0 ? host : "certswap");
  }
  auto duration = parse_duration(flags.leader_lease_duration);
  if (!duration) return std::unexpected(duration.error());
  return plugins::make_leadership(flags.leader_lease, kubeconfig, identity,
                                  std::chrono::duration_cast<std::chrono::seconds>(*duration));
}

int run_sidecar(const Flags& flags, const DaemonOptions& daemon_options) {
  limit_malloc_arenas();  // before any thread has an arena of its own
  auto config = build_config(flags);
  if (!config) return report_error(config.error());
  auto agent = build_agent(*config);
  if (!agent) return report_error(agent.error());
  PrintingReporter reporter;
  DaemonOptions options = daemon_options;
  options.concurrency = config->api.concurrency;
  options.live_concurrency = config->live_concurrency;
  options.budget = agent->api->budget();
  options.on_pass = [api = agent->api.get()] { api->new_pass(); };
  if (!flags.leader_lease.empty()) {
    auto leadership = make_leadership(flags, *config);
    if (!leadership) return report_error(leadership.error());
    options.leadership = std::move(*leadership);
  }
  return run_daemon(agent->targets, options, reporter);
}

}  // namespace certswap::cli
