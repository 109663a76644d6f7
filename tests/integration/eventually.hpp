#pragma once
// Waiting on a condition instead of sleeping a guessed time.
#include <chrono>
#include <thread>

namespace certswap_test {

// Polls `condition` until it holds or `limit` passes; the last answer decides.
template <class F>
bool eventually(F&& condition, std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return condition();
}

}  // namespace certswap_test
