#pragma once
#include <chrono>
#include <string>
#include <vector>

#include "certswap/notifier.hpp"

namespace certswap::plugins {

// Runs a command (argv, no shell) with the new set described in its
// environment; a non-zero exit or a timeout is a failed notification.
// The command starts clean: no blocked or ignored signals inherited from the
// agent, and an environment of the CERTSWAP_* variables, PATH and the names in
// `env_pass` only, so the API token never reaches it.
class ExecNotifier final : public Notifier {
 public:
  ExecNotifier(std::vector<std::string> argv, std::chrono::milliseconds timeout,
               std::vector<std::string> env_pass = {});
  std::string name() const override;
  Result<void> notify(const SwapEvent& event) override;

 private:
  std::vector<std::string> argv_;
  std::chrono::milliseconds timeout_;
  std::vector<std::string> env_pass_;
};

}  // namespace certswap::plugins
