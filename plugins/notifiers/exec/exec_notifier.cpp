#include "notifiers/exec/exec_notifier.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <spdlog/spdlog.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>

#include "certswap/unique_fd.hpp"

namespace certswap::plugins {
namespace {

constexpr size_t kMaxOutput = 64 * 1024;

std::vector<std::string> child_environment(const SwapEvent& event,
                                           const std::vector<std::string>& env_pass) {
  std::map<std::string, std::string> env;
  auto pass = [&env](const std::string& name) {
    if (const char* value = std::getenv(name.c_str())) env[name] = value;
  };
  pass("PATH");
  for (const auto& name : env_pass) pass(name);
  const auto dir = event.output_dir.string();
  env["CERTSWAP_TARGET"] = event.target;
  env["CERTSWAP_OUTPUT_DIR"] = dir;
  env["CERTSWAP_GENERATION"] = event.generation;
  env["CERTSWAP_FINGERPRINT"] = event.fingerprint;
  env["CERTSWAP_NOT_AFTER"] = event.not_after;
  env["CERTSWAP_CERT_FILE"] = dir + "/service.cert";
  env["CERTSWAP_KEY_FILE"] = dir + "/service.key";
  env["CERTSWAP_CA_FILE"] = dir + "/ca.pem";
  std::vector<std::string> entries;
  for (const auto& [k, v] : env) entries.push_back(k + "=" + v);
  return entries;
}

std::vector<char*> null_terminated(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  for (auto& s : strings) pointers.push_back(s.data());
  pointers.push_back(nullptr);
  return pointers;
}

struct SpawnFileActions {
  posix_spawn_file_actions_t actions;
  SpawnFileActions() { posix_spawn_file_actions_init(&actions); }
  ~SpawnFileActions() { posix_spawn_file_actions_destroy(&actions); }
  SpawnFileActions(const SpawnFileActions&) = delete;
  SpawnFileActions& operator=(const SpawnFileActions&) = delete;
};

// The sidecar blocks SIGHUP/SIGINT/SIGTERM for its signalfd; a child that
// inherited that mask (or an ignored disposition) would outlive a SIGTERM.
struct CleanSignalsAttr {
  posix_spawnattr_t attr;
  CleanSignalsAttr() {
    posix_spawnattr_init(&attr);
    sigset_t none;
    sigset_t all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  }
  ~CleanSignalsAttr() { posix_spawnattr_destroy(&attr); }
  CleanSignalsAttr(const CleanSignalsAttr&) = delete;
  CleanSignalsAttr& operator=(const CleanSignalsAttr&) = delete;
};

// Appends what can be read now, up to the cap; false at end of file or error.
bool read_available(int fd, std::string& output) {
  char buffer[4096];
  const ssize_t n = ::read(fd, buffer, sizeof buffer);
  if (n < 0) return errno == EINTR;
  if (n == 0) return false;
  if (output.size() < kMaxOutput) output.append(buffer, static_cast<size_t>(n));
  return true;
}

}  // namespace

ExecNotifier::ExecNotifier(std::vector<std::string> argv, std::chrono::milliseconds timeout,
                           std::vector<std::string> env_pass)
    : argv_(std::move(argv)), timeout_(timeout), env_pass_(std::move(env_pass)) {}

std::string ExecNotifier::name() const {
  return "exec " + (argv_.empty() ? "" : argv_.front());
}

Result<void> ExecNotifier::notify(const SwapEvent& event) {
  if (argv_.empty()) return fail(ErrorKind::Usage, "exec notifier: no command");
  auto env_strings = child_environment(event, env_pass_);
  auto argv = argv_;
  auto envp = null_terminated(env_strings);
  auto args = null_terminated(argv);

  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0)
    return fail(ErrorKind::Notify, "exec notifier: pipe: {}", std::strerror(errno));
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  pid_t pid = 0;
  int rc = 0;
  {
    SpawnFileActions files;
    posix_spawn_file_actions_adddup2(&files.actions, write_end.get(), STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&files.actions, write_end.get(), STDERR_FILENO);
    posix_spawn_file_actions_addopen(&files.actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    // Our own fds are close-on-exec, but libraries open some that are not
    // (libcurl 7.88's wakeup socketpair, librdkafka's wakeup pipes, httplib's
    // accepted sockets) and another thread may open one at any moment: the
    // hook gets stdin, stdout and stderr and nothing else.
    posix_spawn_file_actions_addclosefrom_np(&files.actions, STDERR_FILENO + 1);
    CleanSignalsAttr signals;
    rc = posix_spawnp(&pid, args[0], &files.actions, &signals.attr, args.data(), envp.data());
  }
  write_end.reset();
  if (rc != 0)
    return fail(ErrorKind::Notify, "exec notifier: cannot run {}: {}", argv_[0], std::strerror(rc));

  // The command is done when it exits, not when its output closes: a daemon
  // it starts in the background may hold stdout open for ever. A pidfd wakes
  // the poll at the exit; without one (kernels before 5.3) a short tick does.
  // The raw syscall: glibc 2.36's <sys/pidfd.h> lacks extern "C" for C++.
  UniqueFd exit_fd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  const auto tick = exit_fd ? timeout_ : std::chrono::milliseconds(100);
  std::string output;
  bool reading = true;
  bool timed_out = false;
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  for (;;) {
    const pid_t waited = waitpid(pid, &status, WNOHANG);
    if (waited == pid) break;
    if (waited < 0 && errno != EINTR) {
      ::kill(pid, SIGKILL);
      return fail(ErrorKind::Notify, "exec notifier: cannot wait for {}: {}", argv_[0],
                  std::strerror(errno));
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      ::kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      break;
    }
    pollfd watched[2] = {{reading ? read_end.get() : -1, POLLIN, 0}, {exit_fd.get(), POLLIN, 0}};
    if (poll(watched, 2, static_cast<int>(std::min(left, tick).count())) > 0 &&
        watched[0].revents != 0) {
      reading = read_available(read_end.get(), output);
    }
  }
  // What the command wrote before it exited is still in the pipe; take it
  // without waiting for a writer it left behind.
  pollfd pending{read_end.get(), POLLIN, 0};
  while (reading && output.size() < kMaxOutput && poll(&pending, 1, 0) > 0)
    reading = read_available(read_end.get(), output);
  while (!output.empty() && output.back() == '\n') output.pop_back();
  if (!output.empty()) spdlog::info("{} said: {}", argv_[0], output);
  if (timed_out) {
    return fail(ErrorKind::Notify, "exec notifier: {} did not finish within {} ms and was killed",
                argv_[0], timeout_.count());
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return fail(ErrorKind::Notify, "exec notifier: {} {}", argv_[0],
                WIFEXITED(status) ? fmt::format("exited with status {}", WEXITSTATUS(status))
                                  : fmt::format("was killed by signal {}", WTERMSIG(status)));
  }
  return {};
}

}  // namespace certswap::plugins
