#include "certswap/live_validator.hpp"

#include <dlfcn.h>
#include <fmt/format.h>
#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>

namespace certswap {
namespace {

struct KafkaDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
struct ConfDeleter {
  void operator()(rd_kafka_conf_t* c) const { rd_kafka_conf_destroy(c); }
};
struct MetadataDeleter {
  void operator()(const rd_kafka_metadata_t* m) const { rd_kafka_metadata_destroy(m); }
};
using KafkaPtr = std::unique_ptr<rd_kafka_t, KafkaDeleter>;
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;
using MetadataPtr = std::unique_ptr<const rd_kafka_metadata_t, MetadataDeleter>;

// librdkafka reports a refused handshake only as log lines from its broker
// threads (rd_kafka_metadata just times out with _TRANSPORT), so the reason
// is captured here, and the first refusal decides "rejected" at once.
struct Observations {
  std::mutex mutex;
  std::optional<std::string> refusal;
  std::optional<std::string> other_failure;
};

// Only a peer that looked at the set can refuse it: a TLS alert from the
// broker, a failed authentication, or our own check of the broker's
// certificate against the set's CA. A connection closed or reset in the
// handshake, or a plain-text answer ("wrong version number"), is what a load
// balancer without a backend or a restarting broker does: it says nothing
// about the set. Not a bare "ssl": every line names the broker as ssl://host:port.
bool is_refusal(std::string_view line) {
  for (std::string_view marker : {"alert", "certificate verify failed", "Authentication failed",
                                  "authentication failed", "SASL authentication error"}) {
    if (line.find(marker) != std::string_view::npos) return true;
  }
  return false;
}

void log_callback(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
  auto* obs = static_cast<Observations*>(rd_kafka_opaque(rk));
  if (!obs || level > 4) return;  // warnings and worse only
  std::string_view facility(fac);
  if (facility != "FAIL" && facility != "ERROR" && facility != "SSL") return;
  std::lock_guard lock(obs->mutex);
  if (is_refusal(buf)) {
    if (!obs->refusal) obs->refusal = buf;
  } else if (!obs->other_failure) {
    obs->other_failure = buf;
  }
}

bool set_property(rd_kafka_conf_t* conf, const char* name, const std::string& value,
                  std::string& error) {
  char err[512];
  if (rd_kafka_conf_set(conf, name, value.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
    error = fmt::format("{}: {}", name, err);
    return false;
  }
  return true;
}

// librdkafka's first rd_kafka_new runs sasl_client_init, which dlopens every
// Cyrus SASL plugin installed (nine on Debian, with Berkeley DB): milliseconds
// per process and mappings the sidecar keeps for good, for a mechanism
// certswap never uses (its connections are mTLS). An empty plugin path stops
// that; looked up at run time because libsasl2 is librdkafka's dependency,
// not ours (absent in a build without Cyrus SASL: then nothing to do).
void skip_sasl_plugins() {
  static std::once_flag once;
  std::call_once(once, [] {
    using SetPath = int (*)(int, const char*);
    constexpr int kSaslPathTypePlugin = 0;
    if (auto set_path = reinterpret_cast<SetPath>(::dlsym(RTLD_DEFAULT, "sasl_set_path")))
      set_path(kSaslPathTypePlugin, "");
  });
}

}  // namespace

std::string_view to_string(LiveVerdict verdict) {
  switch (verdict) {
    case LiveVerdict::Accepted:
      return "accepted";
    case LiveVerdict::Rejected:
      return "rejected";
    case LiveVerdict::Inconclusive:
      return "inconclusive";
  }
  return "inconclusive";
}

LiveResult validate_live(const CredentialSet& set, const std::string& bootstrap,
                         std::chrono::milliseconds timeout, const std::function<bool()>& stop) {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  auto elapsed = [&] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - start);
  };
  Observations obs;
  ConfPtr conf(rd_kafka_conf_new());
  std::string error;
  const bool configured =
      set_property(conf.get(), "bootstrap.servers", bootstrap, error) &&
      set_property(conf.get(), "security.protocol", "ssl", error) &&
      set_property(conf.get(), "ssl.ca.pem", set.ca_pem, error) &&
      set_property(conf.get(), "ssl.certificate.pem", set.cert_pem, error) &&
      set_property(conf.get(), "ssl.key.pem", set.key_pem, error) &&
      set_property(conf.get(), "client.id", "certswap-validator", error) &&
      // One broker connection is proof enough; don't linger reconnecting.
      set_property(conf.get(), "reconnect.backoff.ms", "100", error) &&
      set_property(conf.get(), "reconnect.backoff.max.ms", "500", error) &&
      set_property(conf.get(), "socket.connection.setup.timeout.ms",
                   // An int in librdkafka: a bound of weeks must not wrap around.
                   std::to_string(std::clamp<long long>(timeout.count(), 1000, INT32_MAX)), error);
  if (!configured) {
    // librdkafka refuses material it cannot load; that is a property of the set.
    return {LiveVerdict::Rejected, "librdkafka refused the configuration: " + error, elapsed()};
  }
  rd_kafka_conf_set_log_cb(conf.get(), log_callback);
  rd_kafka_conf_set_opaque(conf.get(), &obs);

  skip_sasl_plugins();
  char errstr[512];
  KafkaPtr rk(rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), errstr, sizeof errstr));
  if (!rk) {
    return {LiveVerdict::Rejected, fmt::format("librdkafka could not load the set: {}", errstr),
            elapsed()};
  }
  conf.release();  // owned by rk now
  const auto client_setup =
      std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - start);

  auto verdict = [&]() -> LiveResult {
    const auto deadline = start + timeout;
    while (clock::now() < deadline) {
      if (stop && stop()) {
        return {LiveVerdict::Inconclusive, "abandoned: certswap is stopping", elapsed()};
      }
      const rd_kafka_metadata_t* raw = nullptr;
      const auto slice = std::min<std::chrono::milliseconds>(
          std::chrono::milliseconds(250),
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()));
      const auto err = rd_kafka_metadata(rk.get(), 0, nullptr, &raw,
                                         static_cast<int>(std::max<long long>(1, slice.count())));
      MetadataPtr md(raw);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR && md) {
        return {LiveVerdict::Accepted,
                fmt::format("metadata from {} broker(s), controller/origin {}", md->broker_cnt,
                            md->orig_broker_name ? md->orig_broker_name : "?"),
                elapsed()};
      }
      std::lock_guard lock(obs.mutex);
      if (obs.refusal) return {LiveVerdict::Rejected, *obs.refusal, elapsed()};
    }
    std::lock_guard lock(obs.mutex);
    if (obs.refusal) return {LiveVerdict::Rejected, *obs.refusal, elapsed()};
    return {LiveVerdict::Inconclusive,
            obs.other_failure
                ? *obs.other_failure
                : fmt::format("no answer from {} within {} ms", bootstrap, timeout.count()),
            elapsed()};
  };
  LiveResult result = verdict();
  result.client_setup = client_setup;
  const auto destroying = clock::now();
  rk.reset();
  result.teardown =
      std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - destroying);
  return result;
}

}  // namespace certswap
