// The kubeconfig reader and the in-pod credentials (no API server needed).
#include "outputs/kubernetes_secret/kube_connection.hpp"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>

#include "temp_dir.hpp"

using certswap::kubeconfig_connection;
using certswap_test::TempDir;

namespace {

std::filesystem::path write(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path) << text;
  return path;
}

// base64 of "CA PEM", "CERT PEM", "KEY PEM".
constexpr const char* kCaData = "Q0EgUEVN";
constexpr const char* kCertData = "Q0VSVCBQRU0=";
constexpr const char* kKeyData = "S0VZIFBFTQ==";

std::string config(const std::string& cluster, const std::string& user) {
  return "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
         "contexts:\n- name: other\n  context: {cluster: nowhere, user: nobody}\n"
         "- name: c\n  context:\n    cluster: k\n    user: u\n"
         "clusters:\n- name: k\n  cluster:\n    server: https://10.1.2.3:6443/\n" +
         cluster + "users:\n- name: u\n  user:\n" + user;
}

}  // namespace

TEST_CASE("kubeconfig: the current context's server, CA data, client certificate and key",
          "[kube]") {
  TempDir dir("kubeconfig", true);
  auto c = kubeconfig_connection(write(
      dir.path / "config", config(std::string("    certificate-authority-data: ") + kCaData + "\n",
                                  std::string("    client-certificate-data: ") + kCertData +
                                      "\n    client-key-data: " + kKeyData + "\n")));
  REQUIRE(c);
  CHECK(c->server == "https://10.1.2.3:6443");
  CHECK(c->ca_pem == "CA PEM");
  CHECK(c->client_cert_pem == "CERT PEM");
  CHECK(c->client_key_pem == "KEY PEM");
  auto auth = c->authorization();
  REQUIRE(auth);
  CHECK(auth->empty());  // the certificate is the credential
}

TEST_CASE("kubeconfig: files relative to the kubeconfig, a token file read at each request",
          "[kube]") {
  TempDir dir("kubeconfig", true);
  write(dir.path / "ca.crt", "CA FROM FILE");
  write(dir.path / "token", "first-token\n");
  auto c =
      kubeconfig_connection(write(dir.path / "config", config("    certificate-authority: ca.crt\n",
                                                              "    tokenFile: token\n")));
  REQUIRE(c);
  CHECK(c->ca_pem == "CA FROM FILE");
  CHECK(*c->authorization() == "authorization: Bearer first-token");
  write(dir.path / "token", "rotated-token\n");
  CHECK(*c->authorization() == "authorization: Bearer rotated-token");
}

TEST_CASE("kubeconfig: what certswap refuses, each by name", "[kube]") {
  TempDir dir("kubeconfig", true);
  const auto refused = [&](const std::string& text) {
    auto c = kubeconfig_connection(write(dir.path / "config", text));
    REQUIRE_FALSE(c);
    CHECK(c.error().kind == certswap::ErrorKind::Usage);
    CHECK_THAT(c.error().message, Catch::Contains((dir.path / "config").string()));
    return c.error().message;
  };
  CHECK_THAT(refused(config("", "    exec:\n      command: aws\n")),
             Catch::Contains("exec plugin"));
  CHECK_THAT(refused(config("", "    auth-provider:\n      name: gcp\n")),
             Catch::Contains("auth-provider plugin"));
  CHECK_THAT(refused(config("    insecure-skip-tls-verify: true\n", "    token: t\n")),
             Catch::Contains("insecure-skip-tls-verify"));
  CHECK_THAT(refused(config("", "    username: admin\n")), Catch::Contains("no credential"));
  CHECK_THAT(refused(config("", std::string("    client-certificate-data: ") + kCertData + "\n")),
             Catch::Contains("needs its key"));
  CHECK_THAT(refused("apiVersion: v1\nclusters: []\n"), Catch::Contains("no current-context"));
  CHECK_THAT(refused("current-context: x\ncontexts: []\n"),
             Catch::Contains("context \"x\" is not in contexts"));
  // A syntax error names the place, never the text (it holds tokens).
  const auto syntax = refused("users:\n- name: u\n  user: {token: \"secret-token\n");
  CHECK_THAT(syntax, Catch::Contains("not valid YAML at line"));
  CHECK_THAT(syntax, !Catch::Contains("secret-token"));
}

TEST_CASE("in a pod: the service host and the ServiceAccount's files", "[kube]") {
  TempDir dir("serviceaccount", true);
  write(dir.path / "ca.crt", "CLUSTER CA");
  write(dir.path / "token", "pod-token");
  unsetenv("KUBECONFIG");  // it would come first
  setenv("CERTSWAP_KUBE_SERVICEACCOUNT_DIR", dir.path.c_str(), 1);
  setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
  setenv("KUBERNETES_SERVICE_PORT", "443", 1);
  auto c = certswap::resolve_kube_connection("");
  unsetenv("KUBERNETES_SERVICE_HOST");
  unsetenv("KUBERNETES_SERVICE_PORT");
  unsetenv("CERTSWAP_KUBE_SERVICEACCOUNT_DIR");
  REQUIRE(c);
  CHECK(c->server == "https://[fd00::1]:443");
  CHECK(c->ca_pem == "CLUSTER CA");
  CHECK(*c->authorization() == "authorization: Bearer pod-token");
}
