#pragma once
// Watches one Secret with the Kubernetes watch API (list+watch by name, not
// polling) and calls back on every change, deletion included, so that the
// sidecar checks and repairs it as it does a touched output directory.
#include <condition_variable>
#include <functional>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>

#include "certswap/http_client.hpp"
#include "certswap/output.hpp"
#include "kube_connection.hpp"

namespace certswap {

class SecretWatch : public OutputWatch {
 public:
  SecretWatch(KubeConnection connection, std::string ns, std::string name,
              std::function<void()> changed);
  // Ends the watch within about a second (the transfer's cancel check).
  ~SecretWatch() override;
  void request_stop() override { thread_.request_stop(); }

 private:
  void loop(std::stop_token stop);
  // One watch request; false when it failed before it could stream.
  bool watch_once(const std::stop_token& stop);

  KubeConnection connection_;
  std::string ns_, name_;
  std::function<void()> changed_;
  std::string resource_version_;  // the last one seen: a new watch resumes there
  std::mutex mutex_;
  std::condition_variable_any wake_;
  HttpClient http_;
  std::jthread thread_;  // last: it uses everything above
};

}  // namespace certswap
