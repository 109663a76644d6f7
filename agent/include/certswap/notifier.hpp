#pragma once
// Tells the apps that a new set is live (plugins/notifiers/*).
#include <filesystem>
#include <string>

#include "certswap/error.hpp"

namespace certswap {

struct SwapEvent {
  std::string target;
  std::filesystem::path output_dir;
  std::string generation;
  std::string fingerprint;  // SHA-256 of the new certificate
  std::string not_after;    // ISO 8601
};

class Notifier {
 public:
  virtual ~Notifier() = default;
  virtual std::string name() const = 0;
  virtual Result<void> notify(const SwapEvent& event) = 0;
};

}  // namespace certswap
