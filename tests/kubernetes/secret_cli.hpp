#pragma once
// certswap with one target that writes a Secret of the test namespace, and
// what the tests read from that Secret.
#include <openssl/evp.h>

#include "certswap/cert_info.hpp"
#include "certswap/live_validator.hpp"
#include "cli_harness.hpp"
#include "kube_bed.hpp"

namespace certswap_test {

inline std::string unbase64(const std::string& text) {
  std::string out(text.size() / 4 * 3 + 1, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  REQUIRE(n >= 0);
  std::size_t size = static_cast<std::size_t>(n);
  for (auto it = text.rbegin(); it != text.rend() && *it == '='; ++it) --size;
  out.resize(size);
  return out;
}

inline std::string key_of(const nlohmann::json& secret, const std::string& key) {
  REQUIRE(secret.is_object());
  REQUIRE(secret["data"].contains(key));
  return unbase64(secret["data"][key].get<std::string>());
}

inline std::string base64(const std::string& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

// How often `needle` occurs in `text` (a log's step or check lines).
inline std::size_t occurrences(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// certswap with one target that writes the Secret `name` of the test namespace.
struct SecretCli {
  kubebed::KubeBed kube = kubebed::KubeBed::load();
  Cli cli;
  std::string name;
  fs::path kubeconfig;

  explicit SecretCli(const std::string& prefix)
      : cli(prefix), name(cli.user), kubeconfig(kube.admin_kubeconfig) {}

  std::string ref() const { return kube.ns + "/" + name; }

  testbed::ProcessResult run(std::vector<std::string> args,
                             std::map<std::string, std::string> extra = {}) {
    std::map<std::string, std::string> env{{"CERTSWAP_OUTPUT_DIR", ""},
                                           {"CERTSWAP_KUBERNETES_SECRET", ref()},
                                           {"CERTSWAP_STATE_DIR", (cli.out / "state").string()},
                                           {"CERTSWAP_KUBECONFIG", kubeconfig.string()}};
    for (auto& [k, v] : extra) env[k] = v;
    return cli.run(std::move(args), env);
  }

  nlohmann::json secret() const { return kube.secret(name); }

  certswap::LiveVerdict broker_verdict(const nlohmann::json& s) const {
    certswap::CredentialSet set{key_of(s, "ca.pem"), key_of(s, "service.cert"),
                                key_of(s, "service.key"), "the Secret"};
    return certswap::validate_live(set, cli.tb.bootstrap, std::chrono::seconds(10)).verdict;
  }

  std::string subject(const nlohmann::json& s) const {
    auto info = certswap::inspect_certificate_pem(key_of(s, "service.cert"), "Secret service.cert");
    REQUIRE(info);
    return info->subject;
  }
};

// The environment of a `certswap run` for this target (as SecretCli::run sets it).
inline std::map<std::string, std::string> sidecar_env(const SecretCli& k) {
  auto env = k.cli.env();
  env.erase("CERTSWAP_OUTPUT_DIR");
  env["CERTSWAP_KUBERNETES_SECRET"] = k.ref();
  env["CERTSWAP_STATE_DIR"] = (k.cli.out / "state").string();
  env["CERTSWAP_KUBECONFIG"] = k.kubeconfig.string();
  return env;
}

}  // namespace certswap_test
