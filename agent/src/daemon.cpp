#include "certswap/daemon.hpp"

#include <httplib.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <map>
#include <optional>
#include <random>
#include <thread>

#include "certswap/atomic_store.hpp"
#include "certswap/cert_info.hpp"
#include "certswap/exit_codes.hpp"
#include "certswap/journal.hpp"
#include "certswap/metrics.hpp"
#include "certswap/unique_fd.hpp"
#include "certswap/writer_lock.hpp"

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
  bool repair = false;  // the live directory was touched: check it before anything
  int dir_watch = -1;
  int inbox_watch = -1;
  int generation_watch = -1;
  std::string watched_generation;
};

class Daemon {
 public:
  Daemon(std::vector<Target>& targets, const DaemonOptions& options, StepReporter& printer)
      : targets_(targets), options_(options), metrics_(printer), states_(targets.size()) {
    if (!options_.jitter) {
      options_.jitter = [] {
        thread_local std::mt19937_64 rng{std::random_device{}()};
        return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
      };
    }
  }

  int run() {
    if (auto r = setup(); !r) {
      spdlog::error("{}", r.error().message);
      return exit_code_for(r.error().kind);
    }
    start_endpoint();
    bool announced = false;
    while (!stopping_) {
      check_due_targets();
      // A SIGTERM drained during the pass must not be followed by a sleep.
      if (stopping_) break;
      if (!announced) {
        sd_notify(0, "READY=1");
        announced = true;
      }
      sd_notifyf(0, "STATUS=%s",
                 metrics_.all_ready() ? "all targets ready" : "some targets not ready");
      arm_timer();
      wait_for_events();
    }
    spdlog::info("stopping");
    sd_notify(0, "STOPPING=1");
    stop_endpoint();
    return kExitOk;
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
    inotify_fd_ = UniqueFd(inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
    wake_fd_ = UniqueFd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    epoll_fd_ = UniqueFd(epoll_create1(EPOLL_CLOEXEC));
    for (int fd :
         {signal_fd_.get(), timer_fd_.get(), inotify_fd_.get(), wake_fd_.get(), epoll_fd_.get()}) {
      if (fd < 0)
        return fail(ErrorKind::Internal, "cannot set up the event loop: {}", std::strerror(errno));
    }
    for (int fd : {signal_fd_.get(), timer_fd_.get(), inotify_fd_.get(), wake_fd_.get()}) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.fd = fd;
      if (epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
        return fail(ErrorKind::Internal, "epoll_ctl: {}", std::strerror(errno));
      }
    }
    const auto now = std::chrono::steady_clock::now();
    for (auto& s : states_) s.due = now;
    return {};
  }

  void start_endpoint() {
    if (options_.listen.empty()) return;
    const auto colon = options_.listen.rfind(':');
    const std::string host = options_.listen.substr(0, colon);
    const int port = std::stoi(options_.listen.substr(colon + 1));
    // An idle keep-alive connection (a scraper, a probe) must not hold up SIGTERM.
    server_.set_keep_alive_timeout(1);
    server_.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("ok\n", "text/plain");
    });
    server_.Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
      const bool ready = metrics_.all_ready();
      res.status = ready ? 200 : 503;
      res.set_content(ready ? "ready\n" : "not ready\n", "text/plain");
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

  void stop_endpoint() {
    if (server_thread_.joinable()) {
      server_.stop();
      server_thread_.join();
    }
  }

  void check_due_targets() {
    const auto now = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < targets_.size() && !stopping_; ++i) {
      if (states_[i].due > now && !states_[i].repair) continue;
      check(i);
      poll_signals_only();  // a SIGTERM during a long pass stops after this target
    }
  }

  void check(std::size_t i) {
    Target& target = targets_[i];
    TargetState& state = states_[i];
    const bool repair = std::exchange(state.repair, false);
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
      const auto interval =
          left < options_.renewal_window ? options_.renewal_poll_interval : options_.poll_interval;
      // ±10% so that many sidecars started together drift apart.
      state.due = now + std::chrono::duration_cast<std::chrono::milliseconds>(
                            interval * (0.9 + 0.2 * options_.jitter()));
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
  }

  // For `certswap status` and for whoever reads the journal next.
  // Not worth waiting for: a writer that holds the lock records its own state.
  void record_next_check(const Target& target, std::chrono::steady_clock::duration in) {
    auto lock = WriterLock::acquire(target.config.state_dir, std::chrono::milliseconds(0));
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
    auto store = AtomicStore::open_readonly(target.config.output_dir);
    bool ready = false;
    if (store) {
      auto files = store->read_live(target.format->file_names());
      if (files && files->contains("service.cert")) {
        auto info = inspect_certificate_pem(files->at("service.cert"), "live service.cert");
        if (info) {
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
    auto lock = WriterLock::acquire(target.config.state_dir, target.config.lock_timeout);
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
  // every swap, so watching them would miss the next generation.
  void watch(std::size_t i) {
    TargetState& state = states_[i];
    const auto& dir = targets_[i].config.output_dir;
    if (state.dir_watch < 0) {
      state.dir_watch =
          inotify_add_watch(inotify_fd_.get(), dir.c_str(),
                            IN_DELETE | IN_MOVED_FROM | IN_CREATE | IN_MOVED_TO | IN_ATTRIB);
    }
    if (auto inbox = targets_[i].source->watch_dir(); inbox && state.inbox_watch < 0) {
      state.inbox_watch =
          inotify_add_watch(inotify_fd_.get(), inbox->c_str(), IN_CLOSE_WRITE | IN_MOVED_TO);
    }
    std::error_code ec;
    const auto generation = std::filesystem::read_symlink(dir / "..data", ec);
    if (ec || generation.string() == state.watched_generation) return;
    if (state.generation_watch >= 0) inotify_rm_watch(inotify_fd_.get(), state.generation_watch);
    state.generation_watch = inotify_add_watch(inotify_fd_.get(), (dir / generation).c_str(),
                                               IN_MODIFY | IN_CLOSE_WRITE | IN_DELETE | IN_ATTRIB);
    state.watched_generation = generation.string();
  }

  void arm_timer() {
    auto next = std::chrono::steady_clock::time_point::max();
    for (const auto& s : states_) next = std::min(next, s.due);
    auto delay =
        std::max(std::chrono::nanoseconds(1'000'000), next - std::chrono::steady_clock::now());
    itimerspec spec{};
    spec.it_value.tv_sec = std::chrono::duration_cast<seconds>(delay).count();
    spec.it_value.tv_nsec = (delay % seconds(1)).count();
    timerfd_settime(timer_fd_.get(), 0, &spec, nullptr);
  }

  void wait_for_events() {
    epoll_event events[8];
    int timeout_ms = -1;
    if (std::uint64_t usec = 0; sd_watchdog_enabled(0, &usec) > 0) {
      sd_notify(0, "WATCHDOG=1");
      timeout_ms = static_cast<int>(usec / 2000);
    }
    const int n = epoll_wait(epoll_fd_.get(), events, 8, timeout_ms);
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
    } else if (fd == inotify_fd_.get()) {
      drain_inotify();
    }
  }

  void poll_signals_only() { drain_signals(); }

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
      }
    }
  }

  void drain_inotify() {
    alignas(inotify_event) char buffer[8192];
    ssize_t n;
    while ((n = read(inotify_fd_.get(), buffer, sizeof buffer)) > 0) {
      for (char* p = buffer; p < buffer + n;) {
        auto* ev = reinterpret_cast<inotify_event*>(p);
        for (std::size_t i = 0; i < states_.size(); ++i) {
          if (ev->wd == states_[i].inbox_watch) {
            // A set was dropped off: take it at once rather than at the next poll.
            states_[i].due = std::chrono::steady_clock::now();
          } else if (ev->wd == states_[i].dir_watch || ev->wd == states_[i].generation_watch) {
            // Our own swaps fire here too; a repair check of a healthy set is
            // a cheap offline validation with no API call.
            states_[i].repair = true;
          }
        }
        p += sizeof(inotify_event) + ev->len;
      }
    }
  }

  void all_due_now() {
    const auto now = std::chrono::steady_clock::now();
    for (auto& s : states_) s.due = now;
  }

  std::vector<Target>& targets_;
  DaemonOptions options_;
  Metrics metrics_;
  std::vector<TargetState> states_;
  UniqueFd signal_fd_, timer_fd_, inotify_fd_, wake_fd_, epoll_fd_;
  httplib::Server server_;
  std::thread server_thread_;
  std::atomic<bool> wake_all_{false};
  bool stopping_ = false;
};

}  // namespace

int run_daemon(std::vector<Target>& targets, const DaemonOptions& options, StepReporter& printer) {
  Daemon daemon(targets, options, printer);
  return daemon.run();
}

}  // namespace certswap
