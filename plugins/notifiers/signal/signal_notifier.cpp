#include "notifiers/signal/signal_notifier.hpp"

#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstring>
#include <fstream>

namespace certswap::plugins {

Result<int> parse_signal(std::string_view text) {
  std::string_view name = text.starts_with("SIG") ? text.substr(3) : text;
  static constexpr std::pair<std::string_view, int> kSignals[] = {
      {"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT},  {"TERM", SIGTERM},
      {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"WINCH", SIGWINCH}};
  for (auto [n, s] : kSignals) {
    if (n == name) return s;
  }
  int number = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec == std::errc{} && ptr == text.data() + text.size() && number > 0 && number < NSIG)
    return number;
  return fail(ErrorKind::Usage, "unknown signal \"{}\" (use e.g. SIGHUP, SIGUSR1 or a number)",
              text);
}

SignalNotifier::SignalNotifier(int pid, std::filesystem::path pid_file, int signal,
                               std::string signal_name)
    : pid_(pid),
      pid_file_(std::move(pid_file)),
      signal_(signal),
      signal_name_(std::move(signal_name)) {}

std::string SignalNotifier::name() const {
  return fmt::format(
      "signal {} to {}", signal_name_,
      pid_file_.empty() ? fmt::format("pid {}", pid_) : "pid from " + pid_file_.string());
}

Result<void> SignalNotifier::notify(const SwapEvent&) {
  int pid = pid_;
  if (!pid_file_.empty()) {
    std::ifstream in(pid_file_);
    if (!in || !(in >> pid) || pid <= 0) {
      return fail(ErrorKind::Notify, "signal notifier: cannot read a PID from {}",
                  pid_file_.string());
    }
  }
  if (::kill(pid, signal_) != 0) {
    return fail(ErrorKind::Notify, "signal notifier: kill({}, {}) failed: {}{}", pid, signal_name_,
                std::strerror(errno), errno == ESRCH ? " (the process is gone)" : "");
  }
  return {};
}

}  // namespace certswap::plugins
