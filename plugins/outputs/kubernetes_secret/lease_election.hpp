#pragma once
// Leader election on a coordination.k8s.io/v1 Lease, as client-go's
// leaderelection does it: the leader renews the Lease every retry period; a
// standby takes it over once it has seen the same holder and renew time for
// longer than the lease duration (measured on its own clock, so clocks that
// disagree do not matter); a leader that cannot renew within the renew
// deadline gives up before anyone else can take over.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <stop_token>
#include <thread>

#include "certswap/http_client.hpp"
#include "certswap/leadership.hpp"
#include "kube_connection.hpp"

namespace certswap {

struct LeaseTiming {
  std::chrono::seconds duration{15};        // how long a standby waits on a silent leader
  std::chrono::seconds renew_deadline{10};  // a leader that could not renew this long gives up
  std::chrono::seconds retry_period{2};     // between attempts to acquire or renew
};

class LeaseElection : public Leadership {
 public:
  LeaseElection(KubeConnection connection, std::string ns, std::string name, std::string identity,
                LeaseTiming timing);
  ~LeaseElection() override;

  void start(std::function<void()> changed) override;
  void stop() override;
  bool leading() const override { return leading_.load(); }
  bool leading_now() const override;
  bool lost() const override { return lost_.load(); }
  std::string describe() const override;

 private:
  void loop(std::stop_token stop);
  // One attempt; true when this process holds the Lease afterwards.
  bool try_acquire_or_renew();
  Result<HttpResponse> call(const std::string& method, const std::string& path,
                            const std::string& body);
  nlohmann::json spec_for_us(const nlohmann::json& old_spec, bool renewal) const;

  KubeConnection connection_;
  std::string ns_, name_, identity_;
  LeaseTiming timing_;
  HttpClient http_;
  std::function<void()> changed_;
  std::atomic<bool> leading_{false}, lost_{false};
  mutable std::mutex mutex_;
  std::string holder_;    // the last holder seen (guarded by mutex_)
  std::string observed_;  // holder + renewTime as last seen
  std::chrono::steady_clock::time_point observed_at_;
  // The last renewal (steady_clock ticks): read by leading_now() on the checks' threads.
  std::atomic<std::chrono::steady_clock::rep> renewed_at_{0};
  std::condition_variable_any wake_;
  std::jthread thread_;
};

}  // namespace certswap
