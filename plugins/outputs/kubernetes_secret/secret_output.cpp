#include "secret_output.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <regex>

#include "certswap/failpoint.hpp"

namespace certswap {
namespace {

// Kubernetes refuses a Secret whose data is larger (MaxSecretSize).
constexpr std::size_t kMaxSecretBytes = 1024 * 1024;
constexpr int kMaxConflicts = 5;
constexpr const char* kAnnotationPrefix = "certswap/";
// What the Aiven operator's ServiceUser writes (aiven-operator docs), by file.
constexpr std::pair<const char*, const char*> kOperatorKeys[] = {
    {"service.cert", "ACCESS_CERT"}, {"service.key", "ACCESS_KEY"}, {"ca.pem", "CA_CERT"}};

std::string base64(const std::string& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::optional<std::string> unbase64(const std::string& text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out(text.size() / 4 * 3 + 1, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  std::size_t size = static_cast<std::size_t>(n);
  for (auto it = text.rbegin(); it != text.rend() && *it == '='; ++it) --size;
  out.resize(size);
  return out;
}

std::optional<std::string> data_value(const nlohmann::json& secret, const std::string& key) {
  const auto data = secret.find("data");
  if (data == secret.end() || !data->is_object()) return std::nullopt;
  const auto value = data->find(key);
  if (value == data->end() || !value->is_string()) return std::nullopt;
  return unbase64(value->get<std::string>());
}

bool holds(const nlohmann::json& secret, const std::vector<StoredFile>& files) {
  return std::ranges::all_of(files, [&](const StoredFile& f) {
    auto value = data_value(secret, f.name);
    return value && *value == f.content;
  });
}

std::string owners(const nlohmann::json& secret) {
  std::string list;
  for (const auto& ref : secret["metadata"].value("ownerReferences", nlohmann::json::array())) {
    if (!list.empty()) list += ", ";
    list += ref.value("kind", std::string("?")) + "/" + ref.value("name", std::string("?"));
  }
  return list;
}

}  // namespace

Result<std::pair<std::string, std::string>> parse_secret_ref(const std::string& ref) {
  // RFC 1123 names, as Kubernetes requires of namespaces and Secrets.
  static const std::regex kName("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");
  const auto slash = ref.find('/');
  if (slash == std::string::npos) {
    return fail(ErrorKind::Usage, "Kubernetes Secret \"{}\": write it as NAMESPACE/NAME", ref);
  }
  std::string ns = ref.substr(0, slash), name = ref.substr(slash + 1);
  for (const auto& [part, what] : {std::pair{&ns, "namespace"}, std::pair{&name, "name"}}) {
    if (part->empty() || part->size() > 253 || !std::regex_match(*part, kName)) {
      return fail(ErrorKind::Usage,
                  "Kubernetes Secret \"{}\": \"{}\" is not a valid {} (lower-case letters, "
                  "digits, '-' and '.')",
                  ref, *part, what);
    }
  }
  return std::pair{ns, name};
}

std::string SecretOutput::describe() const {
  return fmt::format("Secret {}/{}", ns_, name_);
}

std::string SecretOutput::describe_version(const std::string& version) const {
  return fmt::format("Secret {}/{} at resourceVersion {}", ns_, name_, version);
}

Result<std::optional<nlohmann::json>> SecretOutput::read() const {
  auto secret = api_->get_secret(ns_, name_);
  if (!secret) return secret;
  if (!basis_) basis_ = *secret;
  last_ = *secret;
  return secret;
}

// The keys certswap owns, decoded; the operator's names stand in for a
// name that is missing (a Secret the operator wrote is a live set).
std::map<std::string, std::string> SecretOutput::owned_content(
    const std::optional<nlohmann::json>& secret) const {
  std::map<std::string, std::string> files;
  if (!secret) return files;
  for (const auto& name : names_) {
    if (auto value = data_value(*secret, name)) files[name] = std::move(*value);
  }
  const std::string prefix = options_.operator_keys_prefix.value_or("");
  for (const auto& [file, key] : kOperatorKeys) {
    if (files.contains(file)) continue;
    if (auto value = data_value(*secret, prefix + key)) files[file] = std::move(*value);
  }
  return files;
}

Result<std::map<std::string, std::string>> SecretOutput::read_live(
    const std::vector<std::string>& names) const {
  auto secret = read();
  if (!secret) return std::unexpected(secret.error());
  auto owned = owned_content(*secret);
  std::map<std::string, std::string> files;
  for (const auto& name : names) {
    if (auto it = owned.find(name); it != owned.end()) files[name] = std::move(it->second);
  }
  return files;
}

bool SecretOutput::ever_held_a_set(const std::vector<std::string>&) const {
  if (!last_) return false;
  // An empty Secret made ahead (so that a Role can name it) held nothing;
  // one with any of the set's keys, or certswap's mark, may be mounted.
  const auto& annotations = (*last_)["metadata"].value("annotations", nlohmann::json::object());
  return !owned_content(last_).empty() ||
         annotations.contains(std::string(kAnnotationPrefix) + "sha256");
}

std::optional<std::string> SecretOutput::current_generation() const {
  if (!last_) return std::nullopt;
  return (*last_)["metadata"].value("resourceVersion", std::string());
}

Result<nlohmann::json> SecretOutput::desired(const std::optional<nlohmann::json>& current,
                                             const std::vector<StoredFile>& files,
                                             const PublishedCert& cert) const {
  nlohmann::json secret = current
                              ? *current
                              : nlohmann::json{{"apiVersion", "v1"},
                                               {"kind", "Secret"},
                                               {"type", "Opaque"},
                                               {"metadata", {{"name", name_}, {"namespace", ns_}}}};
  if (current && !options_.take_over && !owners(*current).empty()) {
    return fail(
        ErrorKind::Usage,
        "{} is owned by {} (ownerReferences): certswap does not write a Secret another "
        "controller manages; give it a Secret of its own, or pass "
        "--kubernetes-take-over (config: \"kubernetes_take_over\": true) to write it anyway",
        describe(), owners(*current));
  }
  if (!secret.contains("data") || !secret["data"].is_object())
    secret["data"] = nlohmann::json::object();
  auto& data = secret["data"];
  // A name of this format that the render leaves out (a password file that
  // is no longer written) goes; keys of anyone else stay.
  for (const auto& name : names_) data.erase(name);
  for (const auto& file : files) data[file.name] = base64(file.content);
  if (options_.operator_keys_prefix) {
    for (const auto& [file_name, key] : kOperatorKeys) {
      for (const auto& file : files) {
        if (file.name == file_name)
          data[*options_.operator_keys_prefix + key] = base64(file.content);
      }
    }
  }
  std::size_t bytes = 0;
  for (const auto& [key, value] : data.items())
    bytes += key.size() + value.get<std::string>().size() / 4 * 3;
  if (bytes > kMaxSecretBytes) {
    return fail(ErrorKind::Io,
                "{} would hold {} bytes, over Kubernetes' limit of {} for a Secret: nothing was "
                "written",
                describe(), bytes, kMaxSecretBytes);
  }
  auto& meta = secret["metadata"];
  meta.erase("managedFields");
  auto& annotations = meta["annotations"];
  if (!annotations.is_object()) annotations = nlohmann::json::object();
  const auto annotate = [&](const char* key, const std::string& value) {
    if (value.empty()) {
      annotations.erase(std::string(kAnnotationPrefix) + key);
    } else {
      annotations[std::string(kAnnotationPrefix) + key] = value;
    }
  };
  annotate("sha256", cert.sha256_fingerprint);
  annotate("subject", cert.subject);
  annotate("not-after", cert.not_after);
  annotate("serial", cert.serial_hex);
  if (cert.lineage) {
    annotate("renews-not-after", cert.lineage->renews_not_after);
    annotate("replaces-sha256", cert.lineage->replaces_sha256);
  }
  auto& labels = meta["labels"];
  if (!labels.is_object()) labels = nlohmann::json::object();
  labels["app.kubernetes.io/managed-by"] = "certswap";
  return secret;
}

Result<std::string> SecretOutput::publish(const std::vector<StoredFile>& files,
                                          const PublishedCert& cert) {
  if (!basis_) {
    if (auto first = read(); !first) return std::unexpected(first.error());
  }
  std::optional<nlohmann::json> current = *basis_;
  const auto decided_on = owned_content(current);
  for (int attempt = 0; attempt < kMaxConflicts; ++attempt) {
    failpoint("before-secret-write");
    auto secret = desired(current, files, cert);
    if (!secret) return std::unexpected(secret.error());
    auto written =
        current ? api_->replace_secret(ns_, name_, *secret) : api_->create_secret(ns_, *secret);
    if (!written) return std::unexpected(written.error());
    if (written->outcome == WriteOutcome::Written) {
      last_ = std::move(written->object);
      return (*last_)["metadata"].value("resourceVersion", std::string());
    }
    // Someone wrote first. What this rotation decided holds only if the
    // keys it owns are still what it decided on.
    auto again = api_->get_secret(ns_, name_);
    if (!again) return std::unexpected(again.error());
    // A retried write whose first attempt landed meets its own version.
    if (*again && holds(**again, files)) {
      last_ = std::move(*again);
      return (*last_)["metadata"].value("resourceVersion", std::string());
    }
    if (owned_content(*again) != decided_on) {
      last_ = *again;
      return fail(ErrorKind::Locked,
                  "{} was changed by another writer while this rotation ran (its certificate "
                  "keys are not what they were): nothing was written; the next check decides "
                  "again from what is there",
                  describe());
    }
    current = std::move(*again);
  }
  return fail(ErrorKind::Locked,
              "{}: {} writes in a row met a newer version (HTTP 409 Conflict): something keeps "
              "rewriting it; nothing was written, the next check tries again",
              describe(), kMaxConflicts);
}

}  // namespace certswap
