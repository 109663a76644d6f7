#include "notifiers/exec/exec_notifier.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <map>

#include "certswap/unique_fd.hpp"

extern char** environ;

namespace certswap::plugins {

ExecNotifier::ExecNotifier(std::vector<std::string> argv, std::chrono::milliseconds timeout)
    : argv_(std::move(argv)), timeout_(timeout) {}

std::string ExecNotifier::name() const {
  return "exec " + (argv_.empty() ? "" : argv_.front());
}

Result<void> ExecNotifier::notify(const SwapEvent& event) {
  if (argv_.empty()) return fail(ErrorKind::Usage, "exec notifier: no command");
  std::map<std::string, std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string entry(*e);
    if (auto eq = entry.find('='); eq != std::string::npos)
      env[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  const auto dir = event.output_dir.string();
  env["CERTSWAP_TARGET"] = event.target;
  env["CERTSWAP_OUTPUT_DIR"] = dir;
  env["CERTSWAP_GENERATION"] = event.generation;
  env["CERTSWAP_FINGERPRINT"] = event.fingerprint;
  env["CERTSWAP_NOT_AFTER"] = event.not_after;
  env["CERTSWAP_CERT_FILE"] = dir + "/service.cert";
  env["CERTSWAP_KEY_FILE"] = dir + "/service.key";
  env["CERTSWAP_CA_FILE"] = dir + "/ca.pem";
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp, args;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  auto argv = argv_;
  for (auto& s : argv) args.push_back(s.data());
  args.push_back(nullptr);

  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0)
    return fail(ErrorKind::Notify, "exec notifier: pipe: {}", std::strerror(errno));
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, write_end.get(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, write_end.get(), STDERR_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  write_end.reset();
  if (rc != 0)
    return fail(ErrorKind::Notify, "exec notifier: cannot run {}: {}", argv_[0], std::strerror(rc));

  std::string output;
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  bool timed_out = false;
  char buffer[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      ::kill(pid, SIGKILL);
      break;
    }
    pollfd p{read_end.get(), POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    const ssize_t n = read(read_end.get(), buffer, sizeof buffer);
    if (n <= 0) break;
    if (output.size() < 64 * 1024) output.append(buffer, static_cast<size_t>(n));
  }
  int status = 0;
  waitpid(pid, &status, 0);
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
