#pragma once
// certswap_reload.hpp: the part of a librdkafka app that takes a renewed client
// certificate without a restart. Copy this one header into your app.
//
// librdkafka reads its certificate, key and CA once, when rd_kafka_new() builds
// the handle (librdkafka#2868), so a new credential needs a new handle. This
// header tells the app *when* (GenerationWatch) and gives it a consistent set to
// build the new handle from (read_pem_set + apply_pem_set). What to do with the
// old handle is the app's choice; examples/cpp-producer and cpp-consumer show
// the two usual ones.
//
// It expects the layout certswap (and Kubernetes Secret volumes) write:
//   DIR/..data -> ..<generation>/        swapped by one rename(2)
//   DIR/service.cert -> ..data/service.cert, DIR/service.key, DIR/ca.pem
#include <librdkafka/rdkafka.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <utility>

namespace certswap_reload {

// Owns a producer or consumer handle; a consumer still calls
// rd_kafka_consumer_close() first, to commit and leave cleanly.
struct KafkaDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using KafkaHandle = std::unique_ptr<rd_kafka_t, KafkaDeleter>;

struct PemSet {
  std::string generation;  // the ..data target, "" for a directory of plain files
  std::string cert, key, ca;
};

inline std::string link_target(const std::string& path) {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

inline std::optional<std::string> slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Reads the three PEMs from the generation ..data points at, not through the
// public links: a swap between two reads would otherwise pair a new key with an
// old certificate. If ..data moved while we read, read again.
inline std::optional<PemSet> read_pem_set(const std::string& dir, std::string& error) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    PemSet set;
    set.generation = link_target(dir + "/..data");
    const std::string base = set.generation.empty() ? dir : dir + "/" + set.generation;
    auto cert = slurp(base + "/service.cert");
    auto key = slurp(base + "/service.key");
    auto ca = slurp(base + "/ca.pem");
    if (link_target(dir + "/..data") != set.generation) continue;
    if (!cert || !key || !ca) {
      error = "cannot read service.cert, service.key and ca.pem in " + base;
      return std::nullopt;
    }
    set.cert = std::move(*cert);
    set.key = std::move(*key);
    set.ca = std::move(*ca);
    return set;
  }
  error = dir + "/..data kept changing while it was read";
  return std::nullopt;
}

using Properties = std::initializer_list<std::pair<const char*, const char*>>;

inline bool set_properties(rd_kafka_conf_t* conf, Properties properties, std::string& error) {
  char errstr[512];
  for (const auto& [name, value] : properties) {
    if (rd_kafka_conf_set(conf, name, value, errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
      error = std::string(name) + ": " + errstr;
      return false;
    }
  }
  return true;
}

// Puts the set into a librdkafka configuration as in-memory PEMs.
inline bool apply_pem_set(rd_kafka_conf_t* conf, const PemSet& set, std::string& error) {
  return set_properties(conf,
                        {{"security.protocol", "ssl"},
                         {"ssl.certificate.pem", set.cert.c_str()},
                         {"ssl.key.pem", set.key.c_str()},
                         {"ssl.ca.pem", set.ca.c_str()}},
                        error);
}

// A configuration with the app's own `properties` and the set's PEMs;
// nullptr (and `error`) when librdkafka refuses one of them.
inline rd_kafka_conf_t* make_conf(Properties properties, const PemSet& set, std::string& error) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  if (!set_properties(conf, properties, error) || !apply_pem_set(conf, set, error)) {
    rd_kafka_conf_destroy(conf);
    return nullptr;
  }
  return conf;
}

// librdkafka's own certificate reload (PR #5483, in no release up to 2.16):
// a librdkafka that knows ssl.certificate.refresh.interval.ms re-reads its
// ssl.*.location files and builds a new TLS context for new connections, so
// the app needs no new handle. Asked of the librdkafka the app runs with, not
// the headers it was built against, so an upgrade of the shared library
// switches the app over by itself.
inline constexpr const char* kNativeReloadProperty = "ssl.certificate.refresh.interval.ms";

inline bool has_native_reload() {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char errstr[512];
  const bool known = rd_kafka_conf_set(conf, kNativeReloadProperty, "10000", errstr,
                                       sizeof errstr) == RD_KAFKA_CONF_OK;
  rd_kafka_conf_destroy(conf);
  return known;
}

// make_conf for such a librdkafka: the files by DIR's stable names (through
// ..data: a swap is one rename, so a re-read takes a whole set), polled every
// 10 s.
inline rd_kafka_conf_t* make_native_conf(Properties properties, const std::string& dir,
                                         std::string& error) {
  const std::string cert = dir + "/service.cert", key = dir + "/service.key", ca = dir + "/ca.pem";
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  if (!set_properties(conf, properties, error) ||
      !set_properties(conf,
                      {{"security.protocol", "ssl"},
                       {"ssl.certificate.location", cert.c_str()},
                       {"ssl.key.location", key.c_str()},
                       {"ssl.ca.location", ca.c_str()},
                       {kNativeReloadProperty, "10000"}},
                      error)) {
    rd_kafka_conf_destroy(conf);
    return nullptr;
  }
  return conf;
}

// Tells when DIR/..data points at a new generation. It watches the directory,
// not the files: the files are never written in place, ..data is renamed over.
// request_check() is for an explicit nudge, e.g. certswap's SIGHUP.
class GenerationWatch {
 public:
  explicit GenerationWatch(std::string dir)
      : dir_(std::move(dir)), current_(link_target(dir_ + "/..data")) {
    fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd_ >= 0) ::inotify_add_watch(fd_, dir_.c_str(), IN_MOVED_TO | IN_CREATE);
  }
  ~GenerationWatch() {
    if (fd_ >= 0) ::close(fd_);
  }
  GenerationWatch(const GenerationWatch&) = delete;
  GenerationWatch& operator=(const GenerationWatch&) = delete;

  int fd() const { return fd_; }
  const std::string& current() const { return current_; }
  void request_check() { requested_ = true; }

  // The new generation, once, after ..data changed; nullopt otherwise.
  std::optional<std::string> changed() {
    bool data_event = requested_;
    requested_ = false;
    alignas(inotify_event) char buf[4096];
    ssize_t n;
    while (fd_ >= 0 && (n = ::read(fd_, buf, sizeof buf)) > 0) {
      for (char* p = buf; p < buf + n;) {
        const auto* ev = reinterpret_cast<const inotify_event*>(p);
        if (ev->len > 0 && std::strcmp(ev->name, "..data") == 0) data_event = true;
        p += sizeof(inotify_event) + ev->len;
      }
    }
    if (!data_event) return std::nullopt;
    std::string now = link_target(dir_ + "/..data");
    if (now.empty() || now == current_) return std::nullopt;
    current_ = now;
    return now;
  }

 private:
  std::string dir_, current_;
  int fd_ = -1;
  bool requested_ = false;
};

}  // namespace certswap_reload
