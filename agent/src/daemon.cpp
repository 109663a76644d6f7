#include "certswap/daemon.hpp"

#include <fcntl.h>
#include <httplib.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <condition_variable>
#include <csignal>
#include <cstring>
#include <map>
#include <mutex>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <optional>
#include <random>
#include <set>
#include <stop_token>
#include <thread>

#include "certswap/atomic_store.hpp"
#include "certswap/cert_info.hpp"
#include "certswap/exit_codes.hpp"
#include "certswap/identity.hpp"
#include "certswap/journal.hpp"
#include "certswap/metrics.hpp"
#include "certswap/request_bound.hpp"
#include "certswap/unique_fd.hpp"
#include "certswap/writer_lock.hpp"
#include "directory_watcher.hpp"
#include "loop_health.hpp"
#include "on_demand_task_queue.hpp"
#include "sd_notify.hpp"
#include "worker_pool.hpp"

namespace certswap {
namespace {

using std::chrono::seconds;
using SteadyTime = std::chrono::steady_clock::time_point;

std::int64_t unix_now() {
  return std::chrono::duration_cast<seconds>(Clock::now().time_since_epoch()).count();
}

struct TargetState {
  SteadyTime due;
  int failures = 0;
  bool repair = false;     // the live directory was touched: check it before anything
  bool in_flight = false;  // handed to a worker, not finished
  bool recheck = false;    // asked for while in flight: due again once it ends
};

// What the watcher watches for target i, under key 3 * i + role.
enum class Watched { OutputDir = 0, Inbox = 1, Generation = 2 };
int watch_key(std::size_t i, Watched what) {
  return static_cast<int>(3 * i) + static_cast<int>(what);
}

// Room for what a check does on its own (files, fsyncs, OpenSSL) and for one
// turn of the loop between checks.
constexpr std::chrono::seconds kLocalWork{30};

}  // namespace

std::chrono::milliseconds check_bound(const Target& target) {
  const auto& c = target.config;
  auto bound = 2 * c.lock_timeout + target.source->upstream_bound() + c.live_timeout +
               std::chrono::milliseconds(kLocalWork);
  for (const auto& n : c.notifiers) {
    HttpOptions http;  // the HTTP notifier's own: its timeout, the default retries
    http.total_timeout = n.timeout;
    bound += request_bound(http);
  }
  return bound;
}

namespace {

class Daemon {
 public:
  Daemon(std::vector<Target>& targets, const DaemonOptions& options, StepReporter& printer)
      : targets_(targets),
        options_(options),
        metrics_(printer),
        states_(targets.size()),
        live_gate_(options.live_concurrency) {
    for (auto& t : targets_) {
      t.live_gate = &live_gate_;
      // The budget is what SIGTERM tells (drain_signals): its flag ends the
      // broker checks in flight as it ends the API transfers.
      if (auto budget = options_.budget) t.stopping = [budget] { return budget->stopping(); };
      if (auto leadership = options_.leadership)
        t.may_acknowledge = [leadership] { return leadership->leading_now(); };
    }
    metrics_.watch_budget(options_.budget);
    if (!options_.jitter) {
      options_.jitter = [] {
        thread_local std::mt19937_64 rng{std::random_device{}()};
        return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
      };
    }
  }

  ~Daemon() {
    for (auto& t : targets_) {
      t.live_gate = nullptr;
      t.stopping = nullptr;
      t.may_acknowledge = nullptr;
    }
  }

  int run() {
    if (auto r = setup(); !r) {
      spdlog::error("{}", r.error().message);
      return exit_code_for(r.error().kind);
    }
    health_.begin("start-up", kLocalWork);
    start_endpoint();
    start_watchdog();
    // Each worker runs one check at a time; beyond the API bound, room for
    // those waiting on a broker, so that handshakes don't idle the API.
    pool_.emplace(std::max(1, options_.concurrency) + std::max(1, options_.live_concurrency));
    bool announced = false;
    if (options_.leadership) options_.leadership->start([this] { wake(); });
    int exit_code = kExitOk;
    while (!stopping_) {
      if (options_.leadership && options_.leadership->lost()) {
        // Another replica may lead by now: stop writing, exit non-zero, and
        // come back (restarted) as a standby.
        stopping_ = true;
        exit_code = kExitLocked;
        break;
      }
      dispatch_due_targets();
      // Once every target has been checked once, as a single-threaded loop would have.
      if (!announced && nothing_in_flight()) {
        notify_service_manager("READY=1");
        announced = true;
      }
      notify_service_manager(metrics_.all_ready() ? "STATUS=all targets ready"
                                                  : "STATUS=some targets not ready");
      arm_timer();
      wait_for_events();
    }
    if (const auto dropped = pool_->drop_pending(); dropped > 0) {
      spdlog::info("{} queued check(s) not started", dropped);
    }
    pool_.reset();  // waits for the checks in flight
    if (options_.leadership) options_.leadership->stop();
    // All at once: each ends within about a second, so one by one would
    // take a second per Secret (measured: 100 Secrets held SIGTERM 30 s+).
    for (auto& w : output_watches_) w->request_stop();
    output_watches_.clear();
    spdlog::info("stopping");
    watchdog_ = {};
    notify_service_manager("STOPPING=1");
    stop_endpoint();
    return exit_code;
  }

  void wake() {
    const std::uint64_t one = 1;
    (void)!write(wake_fd_.get(), &one, sizeof one);
  }

 private:
  Result<void> setup() {
    sigset_t mask;
    sigemptyset(&mask);
    for (int s : {SIGHUP, SIGTERM, SIGINT}) sigaddset(&mask, s);
    if (sigprocmask(SIG_BLOCK, &mask, nullptr) != 0)
      return fail(ErrorKind::Internal, "sigprocmask: {}", std::strerror(errno));
    signal_fd_ = UniqueFd(signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK));
    timer_fd_ = UniqueFd(timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
    wake_fd_ = UniqueFd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    epoll_fd_ = UniqueFd(epoll_create1(EPOLL_CLOEXEC));
    for (int fd : {signal_fd_.get(), timer_fd_.get(), wake_fd_.get(), epoll_fd_.get()}) {
      if (fd < 0)
        return fail(ErrorKind::Internal, "cannot set up the event loop: {}", std::strerror(errno));
    }
    auto watcher = DirectoryWatcher::create();
    if (!watcher) return std::unexpected(watcher.error());
    watcher_.emplace(std::move(*watcher));
    for (int fd : {signal_fd_.get(), timer_fd_.get(), watcher_->fd(), wake_fd_.get()}) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.fd = fd;
      if (epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
        return fail(ErrorKind::Internal, "epoll_ctl: {}", std::strerror(errno));
      }
    }
    const auto now = std::chrono::steady_clock::now();
    for (auto& s : states_) s.due = now;
    // The gauges of a restarted sidecar start where the journal left them.
    for (const auto& t : targets_) {
      auto journal = Journal::read(t.config.state_dir);
      if (!journal || !*journal) continue;
      const auto& st = **journal;
      metrics_.restore(t.config.name, st.last_rotation, st.last_error.empty() ? st.last_check : 0);
    }
    // From the start, so that a drop or damage during the first check is seen.
    for (std::size_t i = 0; i < targets_.size(); ++i) watch(i);
    for (std::size_t i = 0; i < targets_.size(); ++i) {
      if (!targets_[i].watch_output) continue;
      output_watches_.push_back(targets_[i].watch_output([this, i] { output_changed(i); }));
    }
    return {};
  }

  void start_endpoint() {
    if (options_.listen.empty()) return;
    const auto colon = options_.listen.rfind(':');
    const std::string host = options_.listen.substr(0, colon);
    const int port = std::stoi(options_.listen.substr(colon + 1));
    // An idle keep-alive connection (a scraper, a probe) must not hold up SIGTERM.
    server_.set_keep_alive_timeout(1);
    // Without it every answer waits ~40 ms for the client's delayed ACK; at run
    // time because Debian's httplib is compiled (the macro would not reach it).
    server_.set_tcp_nodelay(true);
    // httplib 0.11 opens its listening socket without SOCK_CLOEXEC. (It accepts
    // without it too, with no hook to change that: the exec notifier closes
    // what a hook was not meant to get.)
    server_.set_socket_options([](socket_t sock) {
      httplib::default_socket_options(sock);
      ::fcntl(sock, F_SETFD, FD_CLOEXEC);
    });
    // Workers only while a request is served (on_demand_task_queue.hpp): an
    // idle sidecar keeps two threads, not ten. Four at once cover a kubelet's
    // probes and a scraper; httplib owns and deletes what this returns.
    server_.new_task_queue = [] { return std::make_unique<OnDemandTaskQueue>(4).release(); };
    server_.Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
      const auto health = health_.check();
      res.status = health.healthy ? 200 : 503;
      res.set_content(health.healthy ? "ok\n" : health.reason + "\n", "text/plain");
    });
    server_.Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
      const auto& leadership = options_.leadership;
      // A standby serves nobody and waits: ready, saying who leads.
      const bool standby = leadership && !leadership->leading() && !leadership->lost();
      const bool ready = standby || (metrics_.all_ready() && !(leadership && leadership->lost()));
      res.status = ready ? 200 : 503;
      res.set_content(fmt::format("{}{}\n", ready ? "ready" : "not ready",
                                  leadership ? "; " + leadership->describe() : ""),
                      "text/plain");
    });
    server_.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(metrics_.render(), "text/plain; version=0.0.4");
    });
    server_.Post("/rotate", [this](const httplib::Request&, httplib::Response& res) {
      if (!options_.rotate_endpoint) {
        res.status = 404;
        res.set_content("POST /rotate is disabled (--enable-rotate-endpoint)\n", "text/plain");
        return;
      }
      wake_all_.store(true);
      const std::uint64_t one = 1;
      (void)!write(wake_fd_.get(), &one, sizeof one);
      res.status = 202;
      res.set_content("check scheduled\n", "text/plain");
    });
    if (!server_.bind_to_port(host, port)) {
      spdlog::error("cannot listen on {}; health and metrics are off", options_.listen);
      return;
    }
    spdlog::info("health and metrics on http://{}/ (healthz, readyz, metrics)", options_.listen);
    server_thread_ = std::thread([this] { server_.listen_after_bind(); });
  }

  // WATCHDOG=1 from a thread of its own, so that a long but bounded check keeps
  // the service alive, and only while the loop makes progress, so that a
  // stuck one is restarted by systemd.
  void start_watchdog() {
    const auto interval = watchdog_interval();
    if (!interval) return;
    const auto every = *interval / 2;
    watchdog_ = std::jthread([this, every](std::stop_token stop) {
      std::mutex mutex;
      std::condition_variable_any wake;
      bool warned = false;
      while (!stop.stop_requested()) {
        const auto health = health_.check();
        if (health.healthy) {
          notify_service_manager("WATCHDOG=1");
          warned = false;
        } else if (!warned) {
          spdlog::error("{}; no WATCHDOG=1 until it moves on", health.reason);
          warned = true;
        }
        std::unique_lock lock(mutex);
        wake.wait_for(lock, stop, every, [] { return false; });
      }
    });
  }

  void stop_endpoint() {
    if (server_thread_.joinable()) {
      server_.stop();
      server_thread_.join();
    }
  }

  // Hands every due target that is not being checked to the pool.
  void dispatch_due_targets() {
    // A standby checks nothing: what is due stays due until it leads.
    if (options_.leadership && !options_.leadership->leading()) return;
    const auto now = std::chrono::steady_clock::now();
    std::vector<std::size_t> due;
    {
      std::lock_guard lock(states_mutex_);
      for (std::size_t i = 0; i < targets_.size(); ++i) {
        auto& s = states_[i];
        if (s.in_flight || (s.due > now && !s.repair)) continue;
        s.in_flight = true;
        due.push_back(i);
      }
    }
    if (due.empty()) return;
    if (options_.on_pass) options_.on_pass();
    for (const auto i : due) pool_->submit([this, i] { check(i); });
  }

  bool nothing_in_flight() {
    std::lock_guard lock(states_mutex_);
    return std::ranges::none_of(states_, [](const TargetState& s) { return s.in_flight; });
  }

  // The bound of one check as a worker runs it: its own, and the wait for a
  // broker slot behind the other checks in flight (none with one target).
  std::chrono::milliseconds worker_bound(const Target& target) const {
    const int live = std::max(1, options_.live_concurrency);
    const int workers = std::max(1, options_.concurrency) + live;
    const int others = std::min<int>(workers, static_cast<int>(targets_.size())) - 1;
    return check_bound(target) + ((others + live - 1) / live) * target.config.live_timeout;
  }

  // On a worker thread: one check of target i, which no other thread touches
  // until in_flight is cleared.
  void check(std::size_t i) {
    Target& target = targets_[i];
    const int work = health_.begin_work(fmt::format("the check of {}", target.config.name),
                                        worker_bound(target));
    TargetState state;
    {
      std::lock_guard lock(states_mutex_);
      state = states_[i];
      states_[i].repair = false;
    }
    const bool repair = state.repair;
    if (repair) repair_links(target);
    auto result = repair ? ensure_live(target, metrics_, Clock::now())
                         : rotate(target, RotateOptions{}, metrics_, Clock::now());
    metrics_.set_last_check(target.config.name, unix_now(), result.has_value());
    const auto now = std::chrono::steady_clock::now();
    if (result) {
      state.failures = 0;
      const auto left = result->live.not_after - Clock::now();
      metrics_.set_not_after(
          target.config.name,
          std::chrono::duration_cast<seconds>(result->live.not_after.time_since_epoch()).count());
      metrics_.set_ready(target.config.name, left > options_.danger_window);
      // A repair check (an inotify event) looked at the disk, not upstream: the
      // API poll stays when it was due. Otherwise anything that touches the
      // output directory more often than the poll interval (another writer,
      // init --install-preload, a file manager) would starve the poll and a
      // renewal would never be taken.
      if (!repair) {
        const auto interval = left < options_.renewal_window ? options_.renewal_poll_interval
                                                             : options_.poll_interval;
        // ±10% so that many sidecars started together drift apart.
        state.due = now + std::chrono::duration_cast<std::chrono::milliseconds>(
                              interval * (0.9 + 0.2 * options_.jitter()));
      }
    } else {
      ++state.failures;
      // The live set (if any) keeps serving; readiness follows its validity.
      update_readiness_from_disk(target);
      const auto ceiling = std::min<seconds>(options_.max_backoff,
                                             seconds(5) * (1LL << std::min(state.failures, 12)));
      state.due = now + std::chrono::duration_cast<std::chrono::milliseconds>(
                            ceiling * (0.5 + 0.5 * options_.jitter()));
      spdlog::warn("{}: check failed ({} in a row); next attempt in {} s", target.config.name,
                   state.failures, std::chrono::duration_cast<seconds>(state.due - now).count());
    }
    record_next_check(target, state.due - now);
    watch(i);
    bool last = false;
    {
      std::lock_guard lock(states_mutex_);
      auto& s = states_[i];
      s.failures = state.failures;
      s.due = std::exchange(s.recheck, false) ? now : state.due;
      s.in_flight = false;
      last = std::ranges::none_of(states_, [](const TargetState& t) { return t.in_flight; });
    }
    if (last) release_free_memory();
    health_.end_work(work);
    // The loop arms its timer for this target's next check.
    const std::uint64_t one = 1;
    (void)!write(wake_fd_.get(), &one, sizeof one);
  }

  // The last check of a pass hands back what the pass freed. Each worker
  // thread's malloc arena keeps the pages of the bodies, PEMs and OpenSSL
  // objects its checks freed; with 12 workers and 1,000 targets that held
  // ~45 KiB per target between passes, which the sidecar does not need until
  // the next pass (measured by tests/bench/targets_bench.py).
  static void release_free_memory() {
#ifdef __GLIBC__
    malloc_trim(0);
#endif
  }

  // For `certswap status` and for whoever reads the journal next.
  // Not worth waiting for: a writer that holds the lock records its own state.
  void record_next_check(const Target& target, std::chrono::steady_clock::duration in) {
    auto lock = WriterLock::acquire(target.config.output_dir, target.config.state_dir,
                                    std::chrono::milliseconds(0));
    if (!lock) return;
    auto journal = Journal::open(target.config.state_dir);
    if (!journal) return;
    JournalState s = journal->state();
    s.next_check = unix_now() + std::chrono::duration_cast<seconds>(in).count();
    if (auto saved = journal->save(std::move(s)); !saved) {
      spdlog::warn("{}: {}", target.config.name, saved.error().message);
    }
  }

  void update_readiness_from_disk(const Target& target) {
    auto output = open_output(target, OutputAccess::Read);
    bool ready = false;
    if (output) {
      auto files = (*output)->read_live(target.format->file_names());
      if (files && files->contains("service.cert")) {
        auto info = inspect_certificate_pem(files->at("service.cert"), "live service.cert");
        // Another user's set serves nobody this target is for.
        if (info && !identity_mismatch(*info, target.config.user)) {
          ready = info->not_after - Clock::now() > options_.danger_window;
          metrics_.set_not_after(
              target.config.name,
              std::chrono::duration_cast<seconds>(info->not_after.time_since_epoch()).count());
        }
      }
    }
    metrics_.set_ready(target.config.name, ready);
  }

  // A deleted link is put back from the live generation without a download.
  void repair_links(const Target& target) {
    if (target.config.output_dir.empty()) return;  // a Secret: repaired by its next check
    auto lock = WriterLock::acquire(target.config.output_dir, target.config.state_dir,
                                    target.config.lock_timeout);
    if (!lock) {
      spdlog::warn("{}: {}", target.config.name, lock.error().message);
      return;
    }
    StoreOptions options;
    options.key_mode = target.config.key_mode;
    options.public_mode = target.config.public_mode;
    auto store = AtomicStore::open(target.config.output_dir, options);
    if (!store || !store->current_generation()) return;
    if (auto r = store->repair_links(target.format->file_names()); !r) {
      spdlog::warn("{}: {}", target.config.name, r.error().message);
    }
  }

  // Watches the output directory (links deleted or replaced) and the live
  // generation (files edited in place); the files themselves are replaced on
  // every swap, so watching them would miss the next generation. Called after
  // every check: a directory that was missing is watched once it is back.
  void watch(std::size_t i) {
    std::lock_guard lock(watcher_mutex_);
    const auto& dir = targets_[i].config.output_dir;
    if (dir.empty()) return;  // a Secret: checked on each pass, not watched
    watcher_->watch(watch_key(i, Watched::OutputDir), dir,
                    IN_DELETE | IN_MOVED_FROM | IN_CREATE | IN_MOVED_TO | IN_ATTRIB);
    if (auto inbox = targets_[i].source->watch_dir()) {
      watcher_->watch(watch_key(i, Watched::Inbox), *inbox, IN_CLOSE_WRITE | IN_MOVED_TO);
    }
    std::error_code ec;
    const auto generation = std::filesystem::read_symlink(dir / "..data", ec);
    if (ec) {
      watcher_->unwatch(watch_key(i, Watched::Generation));
      return;
    }
    watcher_->watch(watch_key(i, Watched::Generation), dir / generation,
                    IN_MODIFY | IN_CLOSE_WRITE | IN_DELETE | IN_ATTRIB);
  }

  void arm_timer() {
    auto next = std::chrono::steady_clock::time_point::max();
    {
      // A check in flight wakes the loop when it ends.
      std::lock_guard lock(states_mutex_);
      for (const auto& s : states_) {
        if (!s.in_flight) next = std::min(next, s.repair ? SteadyTime{} : s.due);
      }
    }
    auto delay =
        std::max(std::chrono::nanoseconds(1'000'000), next - std::chrono::steady_clock::now());
    itimerspec spec{};
    spec.it_value.tv_sec = std::chrono::duration_cast<seconds>(delay).count();
    spec.it_value.tv_nsec = (delay % seconds(1)).count();
    timerfd_settime(timer_fd_.get(), 0, &spec, nullptr);
  }

  void wait_for_events() {
    epoll_event events[8];
    health_.idle();
    const int n = epoll_wait(epoll_fd_.get(), events, 8, -1);
    health_.begin("the loop between checks", kLocalWork);
    for (int k = 0; k < n; ++k) handle(events[k].data.fd);
  }

  void handle(int fd) {
    if (fd == signal_fd_.get()) {
      drain_signals();
    } else if (fd == timer_fd_.get()) {
      std::uint64_t expirations;
      (void)!read(fd, &expirations, sizeof expirations);
    } else if (fd == wake_fd_.get()) {
      std::uint64_t count;
      (void)!read(fd, &count, sizeof count);
      if (wake_all_.exchange(false)) all_due_now();
    } else if (fd == watcher_->fd()) {
      drain_inotify();
    }
  }

  void drain_signals() {
    signalfd_siginfo info;
    while (read(signal_fd_.get(), &info, sizeof info) == sizeof info) {
      if (info.ssi_signo == SIGHUP) {
        spdlog::info("SIGHUP: checking every target now");
        all_due_now();
      } else {
        spdlog::info("{}: finishing the work in flight, then exiting",
                     strsignal(static_cast<int>(info.ssi_signo)));
        stopping_ = true;
        // A check waiting out a back-off or a Retry-After gives up now; one
        // whose request can go at once (an acknowledgement) still sends it.
        if (options_.budget) options_.budget->stop_waiting();
      }
    }
  }

  void drain_inotify() {
    std::set<int> keys;
    {
      std::lock_guard lock(watcher_mutex_);
      keys = watcher_->drain();
    }
    std::lock_guard lock(states_mutex_);
    for (const int key : keys) {
      const auto i = static_cast<std::size_t>(key / 3);
      if (key == watch_key(i, Watched::Inbox)) {
        // A set was dropped off: take it at once rather than at the next poll.
        due_now(states_[i]);
      } else {
        // Our own swaps fire here too; a repair check of a healthy set is a
        // cheap offline validation with no API call. A replaced directory
        // lands here as well, watched again by now.
        states_[i].repair = true;
      }
    }
  }

  // From an output's watch thread (a Secret changed or went away): checked
  // like a touched directory, before anything else.
  void output_changed(std::size_t i) {
    {
      std::lock_guard lock(states_mutex_);
      states_[i].repair = true;
    }
    const std::uint64_t one = 1;
    (void)!write(wake_fd_.get(), &one, sizeof one);
  }

  void all_due_now() {
    std::lock_guard lock(states_mutex_);
    for (auto& s : states_) due_now(s);
  }

  static void due_now(TargetState& s) {
    if (s.in_flight) {
      s.recheck = true;  // what it fetched may predate the reason for asking
    } else {
      s.due = std::chrono::steady_clock::now();
    }
  }

  std::vector<Target>& targets_;
  DaemonOptions options_;
  Metrics metrics_;
  std::mutex states_mutex_;  // the loop and the workers share states_
  std::vector<TargetState> states_;
  ConcurrencyGate live_gate_;
  std::mutex watcher_mutex_;
  UniqueFd signal_fd_, timer_fd_, wake_fd_, epoll_fd_;
  std::optional<DirectoryWatcher> watcher_;
  LoopHealth health_;
  httplib::Server server_;
  std::thread server_thread_;
  std::jthread watchdog_;
  std::atomic<bool> wake_all_{false};
  bool stopping_ = false;  // the loop's own
  // Their threads call output_changed: destroyed (joined) before what it uses.
  std::vector<std::unique_ptr<OutputWatch>> output_watches_;
  std::optional<WorkerPool> pool_;  // last: destroyed (joined) before what its jobs use
};

}  // namespace

int run_daemon(std::vector<Target>& targets, const DaemonOptions& options, StepReporter& printer) {
  Daemon daemon(targets, options, printer);
  return daemon.run();
}

}  // namespace certswap
