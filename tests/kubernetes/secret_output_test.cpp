// The Kubernetes Secret output on the real parts: a real kube-apiserver (with
// RBAC and etcd), the Aiven API emulator over HTTPS and the mTLS Kafka broker.
#include "outputs/kubernetes_secret/secret_output.hpp"

#include <openssl/evp.h>

#include <csignal>
#include <iostream>
#include <utility>

#include "certswap/exit_codes.hpp"
#include "eventually.hpp"
#include "secret_cli.hpp"

using namespace certswap_test;
using namespace std::chrono_literals;

TEST_CASE("init writes the user's set into a new Secret, which the broker accepts",
          "[kubernetes]") {
  SecretCli k("k8s-init");
  REQUIRE(k.secret().is_null());
  auto r = k.run({"init"});
  REQUIRE(r.exit_code == 0);
  const auto s = k.secret();
  REQUIRE(s.is_object());
  CHECK(s["type"] == "Opaque");
  CHECK(k.broker_verdict(s) == certswap::LiveVerdict::Accepted);
  CHECK_THAT(k.subject(s), Catch::Contains("CN=" + k.cli.user));
  auto info = certswap::inspect_certificate_pem(key_of(s, "service.cert"), "x");
  REQUIRE(info);
  CHECK(s["metadata"]["annotations"]["certswap/sha256"] == info->sha256_fingerprint);
  CHECK(s["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "certswap");
  CHECK(key_of(s, "bundle.pem").find("PRIVATE KEY") != std::string::npos);
  // A second init finds the set in the Secret and leaves it as it is.
  const auto version = s["metadata"]["resourceVersion"];
  REQUIRE(k.run({"init"}).exit_code == 0);
  CHECK(k.secret()["metadata"]["resourceVersion"] == version);
  // status reads the Secret as it reads a directory.
  auto status = k.run({"status", "--offline"});
  CHECK(status.exit_code == 0);
  CHECK_THAT(status.output, Catch::Contains("output      Secret " + k.ref()) &&
                                Catch::Contains("CN=" + k.cli.user) &&
                                Catch::Contains(info->sha256_fingerprint));
}

TEST_CASE(
    "a renewal is checked on the broker, written, read back and acknowledged once, and keys "
    "certswap does not own stay",
    "[kubernetes]") {
  SecretCli k("k8s-renew");
  k.kube.create_secret({{"metadata", {{"name", k.name}, {"labels", {{"team", "payments"}}}}},
                        {"data", {{"app.properties", base64("acks=all\n")}}}});
  REQUIRE(k.run({"init"}).exit_code == 0);
  const auto installed = k.secret()["metadata"]["annotations"];
  CHECK_FALSE(installed.contains("certswap/renews-not-after"));  // no renewal was pending
  CHECK_FALSE(installed.contains("certswap/replaces-sha256"));   // nothing was live
  const auto renewed = k.cli.tb.renew(k.cli.user, "renewed-k8s");
  auto r = k.run({"rotate"});
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Catch::Contains("at resourceVersion"));
  const auto s = k.secret();
  // The renewal it carries: which certificate it renews and replaces.
  const auto& annotations = s["metadata"]["annotations"];
  REQUIRE(renewed["user"].contains("expiring_cert_not_valid_after_time"));
  CHECK(annotations["certswap/renews-not-after"] ==
        renewed["user"]["expiring_cert_not_valid_after_time"]);
  CHECK(annotations["certswap/replaces-sha256"] == installed["certswap/sha256"]);
  CHECK(annotations["certswap/serial"] != installed["certswap/serial"]);
  CHECK_THAT(k.subject(s), Catch::Contains("renewed-k8s"));
  CHECK(k.broker_verdict(s) == certswap::LiveVerdict::Accepted);
  CHECK(key_of(s, "app.properties") == "acks=all\n");
  CHECK(s["metadata"]["labels"]["team"] == "payments");
  CHECK(k.cli.tb.ack_count(k.cli.user) == 1);
  // Nothing is owed any more: no write, no second acknowledgement.
  const auto version = s["metadata"]["resourceVersion"];
  auto again = k.run({"rotate"});
  CHECK(again.exit_code == 0);
  CHECK(k.secret()["metadata"]["resourceVersion"] == version);
  CHECK(k.cli.tb.ack_count(k.cli.user) == 1);
}

TEST_CASE("a renewal the broker refuses leaves the Secret untouched and unacknowledged",
          "[kubernetes]") {
  SecretCli k("k8s-refused");
  REQUIRE(k.run({"init"}).exit_code == 0);
  const auto before = k.secret();
  k.cli.tb.control_post("/_testbed/ca-bundle", {{"project", k.cli.tb.project}, {"extra_ca", true}});
  k.cli.tb.control_post("/_testbed/renew", {{"project", k.cli.tb.project},
                                            {"service", k.cli.tb.service},
                                            {"username", k.cli.user},
                                            {"signer", "new-ca"}});
  auto r = k.run({"rotate"});
  k.cli.tb.control_post("/_testbed/ca-bundle",
                        {{"project", k.cli.tb.project}, {"extra_ca", false}});
  CHECK(r.exit_code == 3);
  CHECK_THAT(r.output, Catch::Contains("refused the new set"));
  CHECK(k.secret()["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]);
  CHECK(k.cli.tb.ack_count(k.cli.user) == 0);
}

TEST_CASE("a Secret another controller owns is not taken over without --kubernetes-take-over",
          "[kubernetes]") {
  SecretCli k("k8s-owned");
  // What the Aiven operator's ServiceUser leaves: its keys, and itself as owner.
  k.kube.create_secret({{"metadata",
                         {{"name", k.name},
                          {"ownerReferences",
                           {{{"apiVersion", "aiven.io/v1alpha1"},
                             {"kind", "ServiceUser"},
                             {"name", k.cli.user},
                             {"uid", "6f1c2a3e-0d6b-4c38-9a55-2b1f3c4d5e6f"},
                             {"controller", true}}}}}},
                        {"data", {{"ACCESS_CERT", base64("stale")}}}});
  const auto before = k.secret();
  auto r = k.run({"rotate"});
  CHECK(r.exit_code == 64);
  CHECK_THAT(r.output, Catch::Contains("owned by ServiceUser/" + k.cli.user));
  CHECK(k.secret()["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]);
  CHECK(k.cli.tb.ack_count(k.cli.user) == 0);

  auto taken = k.run({"rotate", "--kubernetes-take-over", "--kubernetes-operator-keys", "-"});
  REQUIRE(taken.exit_code == 0);
  const auto s = k.secret();
  CHECK(k.broker_verdict(s) == certswap::LiveVerdict::Accepted);
  // The operator's names carry the same pair, for apps that read them as env vars.
  CHECK(key_of(s, "ACCESS_CERT") == key_of(s, "service.cert"));
  CHECK(key_of(s, "ACCESS_KEY") == key_of(s, "service.key"));
  CHECK(key_of(s, "CA_CERT") == key_of(s, "ca.pem"));
}

TEST_CASE("a Secret the operator wrote with the current pair is a live set", "[kubernetes]") {
  SecretCli k("k8s-operator");
  // The current pair as the operator has it (fetched here into a directory).
  REQUIRE(k.cli.run({"init"}).exit_code == 0);
  const std::string cert = read(k.cli.out / "service.cert");
  const std::string key = read(k.cli.out / "service.key");
  const std::string ca = read(k.cli.out / "ca.pem");
  k.cli.remember_key(key);
  k.kube.create_secret(
      {{"metadata", {{"name", k.name}}},
       {"data",
        {{"ACCESS_CERT", base64(cert)}, {"ACCESS_KEY", base64(key)}, {"CA_CERT", base64(ca)}}}});
  k.cli.tb.control_delete("/_testbed/requests");
  // init keeps a valid live set without asking Aiven; it adds the file names.
  auto r = k.run({"init"});
  REQUIRE(r.exit_code == 0);
  const auto s = k.secret();
  CHECK(key_of(s, "service.cert") == cert);
  CHECK(key_of(s, "ACCESS_CERT") == cert);
  for (const auto& request : k.cli.tb.control_get("/_testbed/requests")) {
    CHECK(request.value("path", "").find("/user/" + k.cli.user) == std::string::npos);
  }
}

TEST_CASE(
    "a writer that changed the certificate keys first wins, one that changed other keys "
    "is merged",
    "[kubernetes]") {
  SecretCli k("k8s-conflict");
  REQUIRE(k.run({"init"}).exit_code == 0);
  auto connection = certswap::kubeconfig_connection(k.kubeconfig);
  REQUIRE(connection);
  auto api = std::make_shared<certswap::KubeApi>(*connection, std::chrono::seconds(10));
  const std::vector<std::string> names{"ca.pem", "service.cert", "service.key", "bundle.pem"};
  const certswap::PublishedCert cert{"feed", "CN=x", "2030-01-01T00:00:00Z", "01", std::nullopt};
  const std::vector<certswap::StoredFile> files{{"service.cert", "ours", false}};

  SECTION("another writer changed service.cert: nothing is written") {
    certswap::SecretOutput output(api, k.kube.ns, k.name, names, {});
    REQUIRE(output.read_live(names));  // what this rotation decides on
    auto theirs = k.kube.call("PATCH", k.kube.secret_path(k.name),
                              {{"data", {{"service.cert", base64("theirs")}}}});
    REQUIRE(theirs.status == 200);
    auto published = output.publish(files, cert);
    REQUIRE_FALSE(published);
    CHECK(published.error().kind == certswap::ErrorKind::Locked);
    CHECK_THAT(published.error().message, Catch::Contains("changed by another writer"));
    CHECK(key_of(k.secret(), "service.cert") == "theirs");
  }
  SECTION("another writer added a key: the write is made on the new version, keeping it") {
    certswap::SecretOutput output(api, k.kube.ns, k.name, names, {});
    REQUIRE(output.read_live(names));
    auto theirs =
        k.kube.call("PATCH", k.kube.secret_path(k.name), {{"data", {{"extra", base64("kept")}}}});
    REQUIRE(theirs.status == 200);
    auto published = output.publish(files, cert);
    REQUIRE(published);
    const auto s = k.secret();
    CHECK(key_of(s, "service.cert") == "ours");
    CHECK(key_of(s, "extra") == "kept");
    CHECK(s["metadata"]["resourceVersion"] == *published);
  }
}

TEST_CASE(
    "a conflict storm: writes that keep meeting a newer version end in a clear error, the "
    "certificate keys untouched and nothing acknowledged, and the next pass writes",
    "[kubernetes]") {
  SecretCli k("k8s-storm");
  REQUIRE(k.run({"init"}).exit_code == 0);
  const auto before = key_of(k.secret(), "service.cert");
  k.cli.tb.renew(k.cli.user, "renewed-storm");
  // The rotation parks before each write attempt (failpoint.hpp); each time,
  // another writer changes a key certswap does not own, so the attempt meets
  // a newer resourceVersion: a storm, in the same order every run.
  const auto parked = k.cli.out.parent_path() / (k.cli.out.filename().string() + ".parked");
  auto env = sidecar_env(k);
  env["CERTSWAP_FAILPOINT_PAUSE"] = "before-secret-write";
  env["CERTSWAP_FAILPOINT_PAUSE_FILE"] = parked.string();
  testbed::BackgroundProcess rotate({certswap_bin(), "rotate"}, env,
                                    (k.cli.out / "storm.log").string());
  const auto gave_up = [&] { return rotate.output().find(" error ") != std::string::npos; };
  int writes = 0;
  for (; writes < 10; ++writes) {
    if (!eventually([&] { return fs::exists(parked) || gave_up(); }, 60s) || gave_up()) break;
    const auto noise =
        k.kube.call("PATCH", k.kube.secret_path(k.name),
                    {{"data", {{"noise", base64("write " + std::to_string(writes) + "\n")}}}});
    REQUIRE(noise.status == 200);
    fs::remove(parked);
  }
  const int code = rotate.stop(0, 60s);
  const auto output = rotate.output();
  INFO(output);
  CHECK(writes == 5);  // secret_output.cpp's bound
  CHECK(code == certswap::exit_code_for(certswap::ErrorKind::Locked));
  CHECK_THAT(output, Catch::Contains("5 writes in a row met a newer version") &&
                         Catch::Contains("Secret " + k.ref()));
  CHECK(key_of(k.secret(), "service.cert") == before);
  CHECK(key_of(k.secret(), "noise") == "write 4\n");
  CHECK(k.cli.tb.ack_count(k.cli.user) == 0);
  // The storm is over: the next pass writes the renewal and acknowledges it.
  auto calm = k.run({"rotate"});
  CHECK(calm.exit_code == 0);
  CHECK_THAT(k.subject(k.secret()), Catch::Contains("renewed-storm"));
  CHECK(key_of(k.secret(), "noise") == "write 4\n");
  CHECK(k.cli.tb.ack_count(k.cli.user) == 1);
}

// SIGSTOP makes the real API server an unresponsive one (connections are
// accepted by the kernel, nothing answers), as in an outage or a partition;
// SIGCONT brings it back, also when a check fails half-way.
class ApiServerOutage {
 public:
  explicit ApiServerOutage(int pid) : pid_(pid) { REQUIRE(::kill(pid_, SIGSTOP) == 0); }
  ~ApiServerOutage() { end(); }
  ApiServerOutage(const ApiServerOutage&) = delete;
  ApiServerOutage& operator=(const ApiServerOutage&) = delete;
  void end() {
    if (pid_ > 0) ::kill(std::exchange(pid_, -1), SIGCONT);
  }

 private:
  int pid_;
};

TEST_CASE(
    "the API server stops answering while the sidecar runs: each check fails with a clear "
    "error and nothing is acknowledged, and when it answers again the renewal is written and "
    "acknowledged once",
    "[kubernetes]") {
  SecretCli k("k8s-outage");
  REQUIRE(k.run({"init"}).exit_code == 0);
  auto env = sidecar_env(k);
  env["CERTSWAP_LIVE_TIMEOUT"] = "3s";  // also the bound of each API server request
  testbed::BackgroundProcess sidecar({certswap_bin(), "run", "--poll-interval", "1s"}, env,
                                     (k.cli.out / "sidecar.log").string());
  const auto count = [&](const std::string& text) { return occurrences(sidecar.output(), text); };
  REQUIRE(eventually([&] { return count(" check ") >= 1; }, 30s));
  {
    ApiServerOutage outage(k.kube.apiserver_pid);
    k.cli.tb.renew(k.cli.user, "renewed-outage");
    // Two failed checks in a row: the sidecar keeps trying and says why.
    REQUIRE(eventually([&] { return count("check failed (2 in a row)") == 1; }, 90s));
    CHECK(k.cli.tb.ack_count(k.cli.user) == 0);
    outage.end();
  }
  // A Secret that could not be read is not a damaged one to replace: the
  // check stops at inspect, naming the server.
  CHECK_THAT(sidecar.output(), Catch::Contains("Kubernetes API server (") &&
                                   Catch::Contains("not reachable") && !Catch::Contains("damaged"));
  CHECK(eventually([&] { return k.cli.tb.ack_count(k.cli.user) == 1; }, 60s));
  const auto s = k.secret();
  CHECK_THAT(k.subject(s), Catch::Contains("renewed-outage"));
  CHECK(k.broker_verdict(s) == certswap::LiveVerdict::Accepted);
  CHECK(sidecar.stop(SIGTERM, std::chrono::seconds(30)) == 0);
  INFO(sidecar.output());
  CHECK(k.cli.tb.ack_count(k.cli.user) == 1);
}

TEST_CASE(
    "RBAC: an account allowed another Secret is Forbidden on this one, and nothing is "
    "acknowledged",
    "[kubernetes]") {
  SecretCli k("k8s-rbac");
  k.kubeconfig = k.kube.limited_account(k.name, {k.name + "-other"}, k.cli.out);
  k.cli.tb.renew(k.cli.user, "renewed-rbac");
  auto r = k.run({"rotate"});
  CHECK(r.exit_code != 0);
  CHECK_THAT(r.output, Catch::Contains("HTTP 403"));
  CHECK_THAT(r.output, Catch::Contains("Secret " + k.ref()));
  CHECK(k.secret().is_null());
  CHECK(k.cli.tb.ack_count(k.cli.user) == 0);
  // The same account on the Secret its Role names does the whole rotation.
  k.name += "-other";
  auto allowed = k.run({"rotate"});
  CHECK(allowed.exit_code == 0);
  CHECK(k.cli.tb.ack_count(k.cli.user) == 1);
}

TEST_CASE(
    "an unreachable API server or a broken kubeconfig: a clear error, nothing "
    "acknowledged",
    "[kubernetes]") {
  SecretCli k("k8s-down");
  k.cli.tb.renew(k.cli.user, "renewed-down");
  SECTION("the API server does not answer") {
    // A port nothing listens on: the server as it is during an outage.
    k.kubeconfig = k.kube.kubeconfig(k.cli.out / "down.kubeconfig", k.kube.admin_token(),
                                     "https://127.0.0.1:1");
    auto r = k.run({"rotate"});
    CHECK(r.exit_code != 0);
    CHECK_THAT(r.output, Catch::Contains("Kubernetes API server"));
    CHECK_THAT(r.output, Catch::Contains("not reachable"));
    CHECK(k.cli.tb.ack_count(k.cli.user) == 0);
    // Back up: the next run does it all.
    k.kubeconfig = k.kube.admin_kubeconfig;
    CHECK(k.run({"rotate"}).exit_code == 0);
    CHECK(k.cli.tb.ack_count(k.cli.user) == 1);
  }
  SECTION("the kubeconfig is not YAML") {
    k.kubeconfig = k.cli.out / "broken.kubeconfig";
    std::ofstream(k.kubeconfig) << "clusters:\n- name: [unclosed\n";
    k.cli.tb.control_delete("/_testbed/requests");
    auto r = k.run({"rotate"});
    CHECK(r.exit_code == 64);
    CHECK_THAT(r.output, Catch::Contains("not valid YAML at line"));
    for (const auto& request : k.cli.tb.control_get("/_testbed/requests")) {
      CHECK(request.value("path", "").find("/user/" + k.cli.user) == std::string::npos);
    }
  }
  SECTION("the kubeconfig asks for an exec plugin") {
    k.kubeconfig = k.cli.out / "exec.kubeconfig";
    std::ofstream(k.kubeconfig)
        << "apiVersion: v1\nclusters:\n- name: c\n  cluster:\n    server: " << k.kube.server
        << "\nusers:\n- name: u\n  user:\n    exec:\n      command: aws\n"
        << "contexts:\n- name: x\n  context:\n    cluster: c\n    user: u\ncurrent-context: x\n";
    auto r = k.run({"rotate"});
    CHECK(r.exit_code == 64);
    CHECK_THAT(r.output, Catch::Contains("exec plugin"));
  }
}

TEST_CASE("in a pod: the ServiceAccount's token file is read for every request", "[kubernetes]") {
  SecretCli k("k8s-incluster");
  const auto sa = k.cli.out / "serviceaccount";
  fs::create_directories(sa);
  fs::copy_file(k.kube.ca_file, sa / "ca.crt");
  std::ofstream(sa / "token") << "not-a-valid-token\n";
  const auto host_port = k.kube.server.substr(k.kube.server.find("://") + 3);
  std::map<std::string, std::string> pod{
      {"CERTSWAP_KUBECONFIG", ""},
      {"KUBERNETES_SERVICE_HOST", host_port.substr(0, host_port.rfind(':'))},
      {"KUBERNETES_SERVICE_PORT", host_port.substr(host_port.rfind(':') + 1)},
      {"CERTSWAP_KUBE_SERVICEACCOUNT_DIR", sa.string()}};
  k.kubeconfig.clear();
  auto refused = k.run({"init"}, pod);
  CHECK(refused.exit_code != 0);
  CHECK_THAT(refused.output, Catch::Contains("HTTP 401"));
  // kubelet rotated the projected token: the new one is used, no restart.
  std::ofstream(sa / "token") << k.kube.admin_token() << "\n";
  k.cli.secrets.push_back(k.kube.admin_token());
  auto r = k.run({"init"}, pod);
  CHECK(r.exit_code == 0);
  CHECK(k.broker_verdict(k.secret()) == certswap::LiveVerdict::Accepted);
}

TEST_CASE(
    "the sidecar watches its Secret: deleted or edited by hand, it is rewritten without "
    "waiting for the poll",
    "[kubernetes]") {
  SecretCli k("k8s-watch");
  REQUIRE(k.run({"init"}).exit_code == 0);
  const auto key = key_of(k.secret(), "service.key");
  k.cli.remember_key(key);
  const auto env = sidecar_env(k);
  // An hour between polls: only the watch can bring a repair within the test.
  testbed::BackgroundProcess sidecar({certswap_bin(), "run", "--poll-interval", "1h"}, env,
                                     (k.cli.out / "sidecar.log").string());
  // The first check, and the one the watch's first event asks for, have ended.
  const auto checks = [&] { return occurrences(sidecar.output(), " check "); };
  REQUIRE(eventually([&] { return checks() >= 2; }, 30s));
  const auto version = k.secret()["metadata"]["resourceVersion"];

  REQUIRE(k.kube.call("DELETE", k.kube.secret_path(k.name)).status == 200);
  CHECK(eventually(
      [&] {
        const auto s = k.secret();
        return s.is_object() && s["data"].contains("service.key") &&
               key_of(s, "service.key") == key;
      },
      30s));
  CHECK(k.secret()["metadata"]["resourceVersion"] != version);

  REQUIRE(k.kube
              .call("PATCH", k.kube.secret_path(k.name),
                    {{"data", {{"service.key", base64("edited by hand\n")}}}})
              .status == 200);
  CHECK(eventually([&] { return key_of(k.secret(), "service.key") == key; }, 30s));
  CHECK(k.broker_verdict(k.secret()) == certswap::LiveVerdict::Accepted);
  // The watch ends with the process: SIGTERM is not held up by it.
  const auto stop_started = std::chrono::steady_clock::now();
  CHECK(sidecar.stop(SIGTERM, std::chrono::seconds(10)) == 0);
  std::cout << "sidecar with a Secret watch stopped in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - stop_started)
                   .count()
            << " ms\n";
  CHECK(std::chrono::steady_clock::now() - stop_started < std::chrono::seconds(3));
  CHECK(k.cli.tb.ack_count(k.cli.user) == 0);
}

TEST_CASE(
    "apps that cannot reload: a renewal restarts the named Deployment before it is "
    "acknowledged, and a refused restart holds the acknowledgement back",
    "[kubernetes]") {
  SecretCli k("k8s-restart");
  const std::string app = k.name + "-app";
  // A Deployment as Pod Security `restricted` admits it (no controllers run
  // here, so no pod starts: the template is what a rollout restart changes).
  nlohmann::json container{{"name", "app"},
                           {"image", "registry.example.com/orders:1"},
                           {"securityContext",
                            {{"allowPrivilegeEscalation", false},
                             {"runAsNonRoot", true},
                             {"capabilities", {{"drop", {"ALL"}}}},
                             {"seccompProfile", {{"type", "RuntimeDefault"}}}}}};
  auto created = k.kube.call("POST", "/apis/apps/v1/namespaces/" + k.kube.ns + "/deployments",
                             {{"metadata", {{"name", app}}},
                              {"spec",
                               {{"selector", {{"matchLabels", {{"app", app}}}}},
                                {"template",
                                 {{"metadata", {{"labels", {{"app", app}}}}},
                                  {"spec", {{"containers", {container}}}}}}}}});
  REQUIRE(created.status == 201);
  CHECK(created.warnings.empty());
  const auto restarted_for = [&] {
    auto d = k.kube.call("GET", "/apis/apps/v1/namespaces/" + k.kube.ns + "/deployments/" + app);
    return d.body["spec"]["template"]["metadata"]
        .value("annotations", nlohmann::json::object())
        .value("certswap/restarted-for", "");
  };
  const auto fingerprint = [&] {
    auto info = certswap::inspect_certificate_pem(key_of(k.secret(), "service.cert"), "Secret");
    REQUIRE(info);
    return info->sha256_fingerprint;
  };
  REQUIRE(k.run({"init"}).exit_code == 0);

  // An account that may write the Secret but not restart the Deployment.
  k.kubeconfig = k.kube.limited_account(k.name, {k.name}, k.cli.out);
  k.cli.tb.renew(k.cli.user, "renewed-restart");
  auto refused = k.run({"rotate", "--notify-restart", "deployment/" + app});
  CHECK(refused.exit_code == 6);  // kExitNotify
  CHECK_THAT(refused.output, Catch::Contains("deployment/" + app) && Catch::Contains("HTTP 403"));
  CHECK_THAT(k.subject(k.secret()), Catch::Contains("renewed-restart"));
  CHECK(restarted_for().empty());
  CHECK(k.cli.tb.ack_count(k.cli.user) == 0);

  // Allowed to: the owed restart, then the acknowledgement.
  k.kubeconfig = k.kube.admin_kubeconfig;
  auto r = k.run({"rotate", "--notify-restart", "deployment/" + app});
  CHECK(r.exit_code == 0);
  CHECK(restarted_for() == fingerprint());
  CHECK(k.cli.tb.ack_count(k.cli.user) == 1);
}

TEST_CASE(
    "a missing namespace, or a Secret Kubernetes' size limit would refuse: a clear error, "
    "the Secret untouched, nothing acknowledged",
    "[kubernetes]") {
  SecretCli k("k8s-refusals");
  k.cli.tb.renew(k.cli.user, "renewed-refusals");
  SECTION("the namespace does not exist") {
    auto r = k.run({"rotate"}, {{"CERTSWAP_KUBERNETES_SECRET", "no-such-namespace/" + k.name}});
    CHECK(r.exit_code != 0);
    CHECK_THAT(r.output, Catch::Contains("Secret no-such-namespace/" + k.name) &&
                             Catch::Contains("HTTP 404") &&
                             Catch::Contains("namespaces \"no-such-namespace\" not found"));
    CHECK(k.cli.tb.ack_count(k.cli.user) == 0);
  }
  SECTION("another key fills the Secret almost to Kubernetes' 1 MiB") {
    k.kube.create_secret({{"metadata", {{"name", k.name}}},
                          {"data", {{"blob", base64(std::string(1'040'000, 'x'))}}}});
    const auto before = k.secret()["metadata"]["resourceVersion"];
    auto r = k.run({"rotate"});
    CHECK(r.exit_code != 0);
    CHECK_THAT(r.output,
               Catch::Contains("over Kubernetes' limit") && Catch::Contains("nothing was written"));
    CHECK(k.secret()["metadata"]["resourceVersion"] == before);
    CHECK(k.cli.tb.ack_count(k.cli.user) == 0);
  }
}

TEST_CASE("a sidecar watching many Secrets stops at once on SIGTERM", "[kubernetes]") {
  SecretCli k("k8s-many");
  constexpr int kSecrets = 12;
  nlohmann::json targets = nlohmann::json::array();
  for (int i = 0; i < kSecrets; ++i) {
    targets.push_back({{"name", "t" + std::to_string(i)},
                       {"project", k.cli.tb.project},
                       {"service", k.cli.tb.service},
                       {"user", k.cli.user},
                       {"kubernetes_secret", k.ref() + "-" + std::to_string(i)},
                       {"kubeconfig", k.kubeconfig.string()},
                       {"state_dir", (k.cli.out / ("state-" + std::to_string(i))).string()}});
  }
  const auto config = k.cli.out / "many.json";
  std::ofstream(config) << nlohmann::json{
      {"api",
       {{"url", k.cli.tb.api_url},
        {"ca_file", k.cli.tb.api_ca},
        {"token_file", k.cli.tb.token_file}}},
      {"targets", targets}}.dump();
  testbed::BackgroundProcess sidecar(
      {certswap_bin(), "run", "--config", config.string(), "--poll-interval", "1h", "--listen", ""},
      {}, (k.cli.out / "many.log").string());
  REQUIRE(eventually(
      [&] {
        for (int i = 0; i < kSecrets; ++i) {
          if (k.kube.secret(k.name + "-" + std::to_string(i)).is_null()) return false;
        }
        return true;
      },
      60s));
  const auto started = std::chrono::steady_clock::now();
  CHECK(sidecar.stop(SIGTERM, std::chrono::seconds(30)) == 0);
  const auto took = std::chrono::steady_clock::now() - started;
  std::cout << "a sidecar with " << kSecrets << " Secret watches stopped in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms\n";
  CHECK(took < std::chrono::seconds(3));
}
