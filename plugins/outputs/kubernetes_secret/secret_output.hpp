#pragma once
// A Kubernetes Secret as the output: the format's files are its data keys
// (ca.pem, service.cert, service.key, ...), so a Secret volume shows the apps
// the same names, in the same `..data` layout (kubelet's AtomicWriter), as an
// output directory. Keys certswap does not own are left alone.
//
// Writes carry the resourceVersion this rotation read (optimistic
// concurrency): when another writer came first, the Secret is read again; if
// only keys certswap does not own changed, the write is made again on the
// new version, and if its own keys changed the rotation stops without
// writing (the next pass decides again from what is there). Never a lost update.
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "certswap/output.hpp"
#include "kube_api.hpp"

namespace certswap {

struct SecretOutputOptions {
  // Write a Secret that another controller owns (ownerReferences).
  bool take_over = false;
  // Also the Aiven operator's keys (<prefix>ACCESS_CERT, ACCESS_KEY, CA_CERT),
  // for apps that read them as environment variables.
  std::optional<std::string> operator_keys_prefix;
};

class SecretOutput : public Output {
 public:
  SecretOutput(std::shared_ptr<KubeApi> api, std::string ns, std::string name,
               std::vector<std::string> names, SecretOutputOptions options)
      : api_(std::move(api)),
        ns_(std::move(ns)),
        name_(std::move(name)),
        names_(std::move(names)),
        options_(std::move(options)) {}

  std::string describe() const override;
  std::string describe_version(const std::string& version) const override;
  Result<std::map<std::string, std::string>> read_live(
      const std::vector<std::string>& names) const override;
  bool read_error_means_damaged() const override { return false; }
  bool ever_held_a_set(const std::vector<std::string>& names) const override;
  std::optional<std::string> attributes_differ(const std::vector<StoredFile>&) const override {
    return std::nullopt;  // a Secret's keys have no mode or owner
  }
  Result<std::string> publish(const std::vector<StoredFile>& files,
                              const PublishedCert& cert) override;
  std::optional<std::string> current_generation() const override;
  Result<void> prune(int) override { return {}; }

 private:
  Result<std::optional<nlohmann::json>> read() const;
  std::map<std::string, std::string> owned_content(const std::optional<nlohmann::json>& s) const;
  Result<nlohmann::json> desired(const std::optional<nlohmann::json>& current,
                                 const std::vector<StoredFile>& files,
                                 const PublishedCert& cert) const;

  std::shared_ptr<KubeApi> api_;
  std::string ns_, name_;
  std::vector<std::string> names_;  // the format's names: the keys certswap owns
  SecretOutputOptions options_;
  // The Secret as this rotation first read it: what its write is based on.
  mutable std::optional<std::optional<nlohmann::json>> basis_;
  mutable std::optional<nlohmann::json> last_;  // the latest read or write
};

// "NAMESPACE/NAME" as a target names it; an error says what is wrong with it.
Result<std::pair<std::string, std::string>> parse_secret_ref(const std::string& ref);

}  // namespace certswap
