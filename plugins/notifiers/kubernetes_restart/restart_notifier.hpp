#pragma once
// For apps that cannot reload: after the Secret is written, each named
// workload's pod template gets an annotation with the new certificate's
// fingerprint, which rolls its pods as `kubectl rollout restart` does. The
// same fingerprint again changes nothing, so a notification that is retried
// (a crash after it, an acknowledgement that failed) restarts no pod twice.
#include <memory>
#include <string>
#include <vector>

#include "certswap/notifier.hpp"
#include "outputs/kubernetes_secret/kube_api.hpp"

namespace certswap::plugins {

struct Workload {
  std::string resource;  // "deployments", "statefulsets", "daemonsets"
  std::string name;
  std::string spelling;  // as configured: "deployment/NAME"
};

// "deployment/NAME" and the like; an error names what is accepted.
Result<Workload> parse_workload(const std::string& text);

class RestartNotifier final : public Notifier {
 public:
  RestartNotifier(std::shared_ptr<KubeApi> api, std::string ns, std::vector<Workload> workloads)
      : api_(std::move(api)), ns_(std::move(ns)), workloads_(std::move(workloads)) {}
  std::string name() const override;
  Result<void> notify(const SwapEvent& event) override;

 private:
  std::shared_ptr<KubeApi> api_;
  std::string ns_;
  std::vector<Workload> workloads_;
};

}  // namespace certswap::plugins
