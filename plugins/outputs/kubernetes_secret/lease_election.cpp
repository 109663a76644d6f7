#include "lease_election.hpp"

#include <spdlog/spdlog.h>

#include "certswap/secret_string.hpp"

namespace certswap {
namespace {

// A Lease's MicroTime: RFC 3339 in UTC with microseconds.
std::string micro_time(std::chrono::system_clock::time_point t) {
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  const std::time_t seconds = micros / 1'000'000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &utc);
  return fmt::format("{}.{:06d}Z", buf, micros % 1'000'000);
}

HttpOptions lease_http(const KubeConnection& c, std::chrono::seconds retry_period) {
  HttpOptions options;
  options.base_url = c.server;
  options.ca_pem = c.ca_pem;
  options.client_cert_pem = c.client_cert_pem;
  options.client_key_pem = c.client_key_pem;
  // One attempt within a retry period: the loop is the retry.
  options.connect_timeout = retry_period;
  options.total_timeout = retry_period * 2;
  options.retry.max_attempts = 1;
  return options;
}

}  // namespace

LeaseElection::LeaseElection(KubeConnection connection, std::string ns, std::string name,
                             std::string identity, LeaseTiming timing)
    : connection_(std::move(connection)),
      ns_(std::move(ns)),
      name_(std::move(name)),
      identity_(std::move(identity)),
      timing_(timing),
      http_(lease_http(connection_, timing.retry_period)) {}

LeaseElection::~LeaseElection() {
  stop();
}

void LeaseElection::stop() {
  if (!thread_.joinable()) return;
  thread_.request_stop();
  thread_ = {};  // joins: no call of `changed` after this
  if (!leading_.exchange(false)) return;
  // Released as client-go's ReleaseOnCancel does: no holder, so a standby
  // takes over at its next attempt. What fails here only costs a standby the
  // lease duration.
  const std::string path =
      fmt::format("/apis/coordination.k8s.io/v1/namespaces/{}/leases/{}", ns_, name_);
  auto got = call("GET", path, "");
  if (!got || got->status != 200) return;
  auto lease = nlohmann::json::parse(got->body, nullptr, false);
  // Looked up, not indexed: a Lease without a spec object is not ours to release.
  if (!lease.is_object() || !lease.contains("spec") || !lease["spec"].is_object() ||
      lease["spec"].value("holderIdentity", "") != identity_)
    return;
  lease["spec"]["holderIdentity"] = "";
  if (auto put = call("PUT", path, lease.dump()); put && put->status == 200) {
    spdlog::info("released the Lease {}/{}", ns_, name_);
  }
}

void LeaseElection::start(std::function<void()> changed) {
  changed_ = std::move(changed);
  thread_ = std::jthread([this](std::stop_token stop) { loop(stop); });
}

std::string LeaseElection::describe() const {
  std::lock_guard lock(mutex_);
  if (leading_) return fmt::format("leader: {} (this replica), Lease {}/{}", identity_, ns_, name_);
  if (lost_) return fmt::format("lost the Lease {}/{}: stopping", ns_, name_);
  return fmt::format("standby: {}; leader: {}, Lease {}/{}", identity_,
                     holder_.empty() ? "none yet" : holder_, ns_, name_);
}

Result<HttpResponse> LeaseElection::call(const std::string& method, const std::string& path,
                                         const std::string& body) {
  auto auth = connection_.authorization();
  if (!auth) return std::unexpected(auth.error());
  std::vector<std::string> headers{"accept: application/json"};
  if (!body.empty()) headers.emplace_back("content-type: application/json");
  if (!auth->empty()) headers.push_back(*auth);
  auto response = http_.request(method, path, body, headers, false);
  for (auto& h : headers) SecretString(std::move(h)).wipe();
  return response;
}

nlohmann::json LeaseElection::spec_for_us(const nlohmann::json& old_spec, bool renewal) const {
  const auto now = micro_time(std::chrono::system_clock::now());
  nlohmann::json spec = old_spec.is_object() ? old_spec : nlohmann::json::object();
  spec["holderIdentity"] = identity_;
  spec["leaseDurationSeconds"] = timing_.duration.count();
  spec["renewTime"] = now;
  if (!renewal) {
    spec["acquireTime"] = now;
    spec["leaseTransitions"] = spec.value("leaseTransitions", 0) + (old_spec.is_object() ? 1 : 0);
  }
  return spec;
}

bool LeaseElection::try_acquire_or_renew() {
  const std::string collection =
      fmt::format("/apis/coordination.k8s.io/v1/namespaces/{}/leases", ns_);
  const std::string path = collection + "/" + name_;
  auto got = call("GET", path, "");
  if (!got) {
    spdlog::warn("Lease {}/{}: {}", ns_, name_, got.error().message);
    return false;
  }
  if (got->status == 404) {
    nlohmann::json lease{{"apiVersion", "coordination.k8s.io/v1"},
                         {"kind", "Lease"},
                         {"metadata", {{"name", name_}, {"namespace", ns_}}},
                         {"spec", spec_for_us(nullptr, false)}};
    auto created = call("POST", collection, lease.dump());
    if (created && created->status == 201) {
      std::lock_guard lock(mutex_);
      holder_ = identity_;
      return true;
    }
    return false;  // another replica created it first, or the call failed: next round
  }
  if (got->status != 200) {
    spdlog::warn("Lease {}/{}: HTTP {} from {} (RBAC: get, create and update on leases)", ns_,
                 name_, got->status, connection_.server);
    return false;
  }
  auto lease = nlohmann::json::parse(got->body, nullptr, false);
  if (!lease.is_object()) return false;
  const auto spec = lease.value("spec", nlohmann::json::object());
  const std::string holder = spec.value("holderIdentity", "");
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mutex_);
    holder_ = holder;
    const std::string seen = holder + "@" + spec.value("renewTime", "");
    if (seen != observed_) {
      observed_ = seen;
      observed_at_ = now;
    }
  }
  const bool ours = holder == identity_;
  // The holder's own duration, not ours: it promised to renew within it.
  const auto duration = std::chrono::seconds(
      spec.value("leaseDurationSeconds", static_cast<std::int64_t>(timing_.duration.count())));
  if (!ours && !holder.empty() && now < observed_at_ + duration) return false;
  // (A released Lease has no holder: taken at once.)
  lease["spec"] = spec_for_us(spec, ours);
  auto put = call("PUT", path, lease.dump());    // carries the resourceVersion just read
  if (!put || put->status != 200) return false;  // 409: someone else wrote first
  std::lock_guard lock(mutex_);
  holder_ = identity_;
  return true;
}

bool LeaseElection::leading_now() const {
  const auto since = std::chrono::steady_clock::now() -
                     std::chrono::steady_clock::time_point(
                         std::chrono::steady_clock::duration(renewed_at_.load()));
  // A standby takes over a whole duration after the renewal it last saw; the
  // leader stops at renew_deadline (2/3 of it) before that.
  return leading_.load() && since < timing_.renew_deadline;
}

void LeaseElection::loop(std::stop_token stop) {
  while (!stop.stop_requested()) {
    const bool held = try_acquire_or_renew();
    const auto now = std::chrono::steady_clock::now();
    if (held) {
      renewed_at_ = now.time_since_epoch().count();
      if (!leading_.exchange(true)) {
        spdlog::info("leading: this replica ({}) holds the Lease {}/{}", identity_, ns_, name_);
        if (changed_) changed_();
      }
    } else if (leading_ && !leading_now()) {
      // Past the deadline a standby may take over soon: stop writing first.
      leading_ = false;
      lost_ = true;
      spdlog::error("lost the Lease {}/{}: not renewed for {} s", ns_, name_,
                    timing_.renew_deadline.count());
      if (changed_) changed_();
      return;
    }
    std::mutex m;
    std::unique_lock lock(m);
    wake_.wait_for(lock, stop, timing_.retry_period, [] { return false; });
  }
}

}  // namespace certswap
