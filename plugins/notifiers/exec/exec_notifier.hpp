#pragma once
#include <chrono>
#include <string>
#include <vector>

#include "certswap/notifier.hpp"

namespace certswap::plugins {

// Runs a command (argv, no shell) with the new set described in its
// environment; a non-zero exit or a timeout is a failed notification.
class ExecNotifier final : public Notifier {
 public:
  ExecNotifier(std::vector<std::string> argv, std::chrono::milliseconds timeout);
  std::string name() const override;
  Result<void> notify(const SwapEvent& event) override;

 private:
  std::vector<std::string> argv_;
  std::chrono::milliseconds timeout_;
};

}  // namespace certswap::plugins
