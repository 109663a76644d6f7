#pragma once
// Where the apps read the live set (design.md "Outputs"): an output directory
// (directory_output.hpp) or a Kubernetes Secret (plugins/outputs). The
// rotation reads, publishes and reads back through this interface and does
// not know which one it writes.
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "certswap/atomic_store.hpp"
#include "certswap/error.hpp"

namespace certswap {

// What a publish carries besides the files: the certificate it installs, for
// outputs that can label what they hold (a Secret's annotations).
struct PublishedCert {
  std::string sha256_fingerprint;
  std::string subject;
  std::string not_after;  // RFC 3339
  std::string serial_hex;
  // Where a newly installed certificate comes from. Absent when the live set
  // is only written again (a re-render): what the output says of it stays.
  struct Lineage {
    // The end of the certificate this set renews, when upstream announced it
    // as a renewal (Aiven's expiring_cert_not_valid_after_time); else empty.
    std::string renews_not_after;
    std::string replaces_sha256;  // the certificate live before it, if any
  };
  std::optional<Lineage> lineage;
};

class Output {
 public:
  virtual ~Output() = default;

  // For messages: the directory, or "Secret NAMESPACE/NAME".
  virtual std::string describe() const = 0;
  // For the swap step's line: where `version` (publish's answer) is live.
  virtual std::string describe_version(const std::string& version) const = 0;
  // name -> content of each of `names` a reader gets now; a name no reader
  // gets (missing, dangling) is left out.
  virtual Result<std::map<std::string, std::string>> read_live(
      const std::vector<std::string>& names) const = 0;
  // What a read_live() error says of the live set: for a directory, that what
  // is there cannot be read as files (damaged); for a Secret, only that the API
  // server did not answer or refused, so nothing is known of the set and the
  // check stops without deciding anything.
  virtual bool read_error_means_damaged() const { return true; }
  // Whether any app can have read a set from here: false only when nothing
  // that looks like one is or was there.
  virtual bool ever_held_a_set(const std::vector<std::string>& names) const = 0;
  // How the live files differ from what publish(files) would leave in mode or
  // owner (content is the format's business); nullopt when they don't.
  virtual std::optional<std::string> attributes_differ(
      const std::vector<StoredFile>& files) const = 0;
  // Makes `files` the live set, all at once; returns what names the version
  // now live (a generation directory, a resourceVersion).
  virtual Result<std::string> publish(const std::vector<StoredFile>& files,
                                      const PublishedCert& cert) = 0;
  virtual std::optional<std::string> current_generation() const = 0;
  // Drops what is no longer needed for a rollback (older generations).
  virtual Result<void> prune(int keep) = 0;
};

enum class OutputAccess {
  Read,   // status, readiness: creates, repairs and changes nothing
  Write,  // a rotation, under the target's WriterLock
};

// Opens a target's output; outputs that are plugins set one (the registry).
using OutputOpener = std::function<Result<std::unique_ptr<Output>>(OutputAccess)>;

// Calls back, from a thread of its own, whenever an output may have been
// changed by someone else, until it is destroyed (which ends that thread).
class OutputWatch {
 public:
  virtual ~OutputWatch() = default;
  // Asks the watch to end without waiting for it, so that many end at once
  // (each may take up to a second); the destructor waits.
  virtual void request_stop() {}
};
// Starts watching a target's output; none for an output directory, which
// the sidecar watches with inotify itself.
using OutputWatcher = std::function<std::unique_ptr<OutputWatch>(std::function<void()> changed)>;

}  // namespace certswap
