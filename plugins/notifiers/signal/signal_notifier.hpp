#pragma once
#include <filesystem>

#include "certswap/notifier.hpp"

namespace certswap::plugins {

// Sends a signal to a process given by PID or pidfile. The pidfile is read at
// every notification because the app may have restarted since the last one.
class SignalNotifier final : public Notifier {
 public:
  SignalNotifier(int pid, std::filesystem::path pid_file, int signal, std::string signal_name);
  std::string name() const override;
  Result<void> notify(const SwapEvent& event) override;

 private:
  int pid_;
  std::filesystem::path pid_file_;
  int signal_;
  std::string signal_name_;
};

// "SIGHUP", "HUP" or a number; an error names the unknown text.
Result<int> parse_signal(std::string_view text);

}  // namespace certswap::plugins
