#include "kube_connection.hpp"

#include <openssl/evp.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>
#include <iterator>

namespace certswap {
namespace {

constexpr const char* kServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount";

Result<std::string> read_file(const std::filesystem::path& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(ErrorKind::Usage, "cannot read the {} {}", what, path.string());
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string trim(std::string text) {
  constexpr std::string_view kBlank = " \t\r\n";
  text.erase(0, std::min(text.find_first_not_of(kBlank), text.size()));
  text.erase(text.find_last_not_of(kBlank) + 1);
  return text;
}

Result<std::string> base64_decode(const std::string& text, std::string_view what) {
  const std::string clean = trim(text);
  std::string out(clean.size() / 4 * 3 + 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(clean.data()),
                                static_cast<int>(clean.size()));
  if (n < 0 || clean.size() % 4 != 0) return fail(ErrorKind::Usage, "{} is not base64", what);
  std::size_t size = static_cast<std::size_t>(n);
  // EVP_DecodeBlock counts the padding's zero bytes too.
  for (auto it = clean.rbegin(); it != clean.rend() && *it == '='; ++it) --size;
  out.resize(size);
  return out;
}

// A kubeconfig's "<name>" or "<name>-data" pair: a file path (relative to the
// kubeconfig's directory, as kubectl reads it) or inline base64.
Result<std::string> file_or_data(const YAML::Node& node, const std::string& name,
                                 const std::filesystem::path& base, std::string_view where) {
  if (node[name + "-data"]) {
    return base64_decode(node[name + "-data"].as<std::string>(),
                         fmt::format("{} {}-data", where, name));
  }
  if (node[name]) {
    std::filesystem::path path = node[name].as<std::string>();
    if (path.is_relative()) path = base / path;
    return read_file(path, fmt::format("{} {}", where, name));
  }
  return std::string();
}

// The entry named `name` of a kubeconfig list (clusters, users, contexts).
YAML::Node named(const YAML::Node& list, const std::string& name) {
  if (!list || !list.IsSequence()) return YAML::Node();
  for (const auto& entry : list) {
    if (entry["name"] && entry["name"].as<std::string>() == name) return entry;
  }
  return YAML::Node();
}

Result<KubeConnection> parse_kubeconfig(const YAML::Node& root, const std::filesystem::path& path) {
  const std::string where = path.string();
  if (!root["current-context"]) {
    return fail(ErrorKind::Usage, "kubeconfig {}: no current-context", where);
  }
  const auto context_name = root["current-context"].as<std::string>();
  const auto context = named(root["contexts"], context_name)["context"];
  if (!context) {
    return fail(ErrorKind::Usage, "kubeconfig {}: context \"{}\" is not in contexts", where,
                context_name);
  }
  const auto cluster_name = context["cluster"] ? context["cluster"].as<std::string>() : "";
  const auto cluster = named(root["clusters"], cluster_name)["cluster"];
  if (!cluster || !cluster["server"]) {
    return fail(ErrorKind::Usage, "kubeconfig {}: cluster \"{}\" of context \"{}\" has no server",
                where, cluster_name, context_name);
  }
  if (cluster["insecure-skip-tls-verify"] && cluster["insecure-skip-tls-verify"].as<bool>()) {
    return fail(ErrorKind::Usage,
                "kubeconfig {}: cluster \"{}\" sets insecure-skip-tls-verify; certswap writes "
                "private keys there and always verifies the server: give its CA instead",
                where, cluster_name);
  }
  KubeConnection c;
  c.origin = fmt::format("kubeconfig {} (context \"{}\")", where, context_name);
  c.server = cluster["server"].as<std::string>();
  while (!c.server.empty() && c.server.back() == '/') c.server.pop_back();
  const auto base = path.parent_path();
  auto ca = file_or_data(cluster, "certificate-authority", base,
                         fmt::format("kubeconfig {} cluster \"{}\"", where, cluster_name));
  if (!ca) return std::unexpected(ca.error());
  c.ca_pem = *ca;

  const auto user_name = context["user"] ? context["user"].as<std::string>() : "";
  const auto user = named(root["users"], user_name)["user"];
  if (!user) {
    return fail(ErrorKind::Usage, "kubeconfig {}: user \"{}\" of context \"{}\" is not in users",
                where, user_name, context_name);
  }
  for (const char* plugin : {"exec", "auth-provider"}) {
    if (user[plugin]) {
      return fail(ErrorKind::Usage,
                  "kubeconfig {}: user \"{}\" uses an {} plugin, which certswap does not run; "
                  "give it a token, a token file or a client certificate (e.g. a ServiceAccount "
                  "token from `kubectl create token`)",
                  where, user_name, plugin);
    }
  }
  const std::string user_where = fmt::format("kubeconfig {} user \"{}\"", where, user_name);
  if (user["token"]) c.token = trim(user["token"].as<std::string>());
  if (user["tokenFile"]) {
    std::filesystem::path file = user["tokenFile"].as<std::string>();
    c.token_file = file.is_relative() ? base / file : file;
  }
  auto cert = file_or_data(user, "client-certificate", base, user_where);
  if (!cert) return std::unexpected(cert.error());
  auto key = file_or_data(user, "client-key", base, user_where);
  if (!key) return std::unexpected(key.error());
  c.client_cert_pem = *cert;
  c.client_key_pem = std::move(*key);
  if (c.client_cert_pem.empty() != c.client_key_pem.empty()) {
    return fail(ErrorKind::Usage,
                "{}: a client certificate needs its key, and a key its "
                "certificate",
                user_where);
  }
  if (c.token.empty() && c.token_file.empty() && c.client_cert_pem.empty()) {
    return fail(ErrorKind::Usage, "{}: no credential (token, tokenFile or client-certificate)",
                user_where);
  }
  return c;
}

}  // namespace

Result<SecretString> KubeConnection::authorization() const {
  SecretString token = this->token;
  if (!token_file.empty()) {
    auto text = read_file(token_file, "Kubernetes token file");
    if (!text) return std::unexpected(text.error());
    token = trim(std::move(*text));
  }
  if (token.empty()) return SecretString();
  return SecretString("authorization: Bearer " + token);
}

Result<KubeConnection> in_cluster_connection() {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (!host || !*host) {
    return fail(ErrorKind::Usage,
                "not in a Kubernetes pod (KUBERNETES_SERVICE_HOST is not set): give --kubeconfig");
  }
  KubeConnection c;
  const std::string h = host;
  // An IPv6 service address needs its brackets in a URL.
  c.server = fmt::format("https://{}:{}", h.find(':') != std::string::npos ? "[" + h + "]" : h,
                         port && *port ? port : "443");
  const std::filesystem::path dir = std::getenv("CERTSWAP_KUBE_SERVICEACCOUNT_DIR")
                                        ? std::getenv("CERTSWAP_KUBE_SERVICEACCOUNT_DIR")
                                        : kServiceAccountDir;
  auto ca = read_file(dir / "ca.crt", "ServiceAccount CA");
  if (!ca) return std::unexpected(ca.error());
  c.ca_pem = *ca;
  c.token_file = dir / "token";
  c.origin = fmt::format("the pod's ServiceAccount ({})", dir.string());
  if (auto probe = c.authorization(); !probe) return std::unexpected(probe.error());
  return c;
}

Result<KubeConnection> kubeconfig_connection(const std::filesystem::path& path) {
  auto text = read_file(path, "kubeconfig");
  if (!text) return std::unexpected(text.error());
  try {
    return parse_kubeconfig(YAML::Load(*text), path);
  } catch (const YAML::Exception& e) {
    // The mark, not the message's excerpt: the file holds tokens and keys.
    return fail(ErrorKind::Usage, "kubeconfig {}: not valid YAML at line {}, column {}",
                path.string(), e.mark.line + 1, e.mark.column + 1);
  }
}

Result<KubeConnection> resolve_kube_connection(const std::filesystem::path& kubeconfig) {
  if (!kubeconfig.empty()) return kubeconfig_connection(kubeconfig);
  if (const char* env = std::getenv("KUBECONFIG"); env && *env) {
    const std::string list = env;
    // kubectl merges a list; certswap takes the first file, whole.
    return kubeconfig_connection(list.substr(0, list.find(':')));
  }
  if (const char* host = std::getenv("KUBERNETES_SERVICE_HOST"); host && *host) {
    return in_cluster_connection();
  }
  const char* home = std::getenv("HOME");
  if (!home || !*home) {
    return fail(ErrorKind::Usage,
                "no Kubernetes credentials: give --kubeconfig, set KUBECONFIG, or run in a pod");
  }
  return kubeconfig_connection(std::filesystem::path(home) / ".kube" / "config");
}

}  // namespace certswap
