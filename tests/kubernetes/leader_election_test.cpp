// Two replicas of the central certswap on one Secret: a Lease on the real
// kube-apiserver elects the one that writes and acknowledges.
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>

#include "certswap/exit_codes.hpp"
#include "eventually.hpp"
#include "secret_cli.hpp"

using namespace certswap_test;
using namespace std::chrono_literals;

namespace {

using testbed::free_port;

struct Replica {
  int port = free_port();
  std::unique_ptr<testbed::BackgroundProcess> process;

  Replica(const SecretCli& k, const std::string& lease, const std::string& identity,
          const std::map<std::string, std::string>& extra_env = {}) {
    auto env = sidecar_env(k);
    for (const auto& [name, value] : extra_env) env[name] = value;
    process = std::make_unique<testbed::BackgroundProcess>(
        std::vector<std::string>{certswap_bin(), "run", "--poll-interval", "1s",
                                 "--renewal-poll-interval", "1s", "--leader-lease", lease,
                                 "--leader-identity", identity, "--leader-lease-duration", "6s",
                                 "--listen", "127.0.0.1:" + std::to_string(port)},
        env, (k.cli.out / (identity + ".log")).string());
  }

  std::string readyz() const {
    httplib::Client client("127.0.0.1", port);
    auto r = client.Get("/readyz");
    return r ? std::to_string(r->status) + " " + r->body : "no answer";
  }

  // Lines of the step `step` in its log (text format: "<target> <step> <status> ...").
  std::size_t steps(const std::string& step) const {
    return occurrences(process->output(), " " + step + " ");
  }
};

std::string lease_path(const SecretCli& k, const std::string& lease_name) {
  return "/apis/coordination.k8s.io/v1/namespaces/" + k.kube.ns + "/leases/" + lease_name;
}

std::string lease_holder(const SecretCli& k, const std::string& lease_name) {
  auto r = k.kube.call("GET", lease_path(k, lease_name));
  return r.status == 200 ? r.body["spec"].value("holderIdentity", "") : std::string("<none>");
}

}  // namespace

TEST_CASE(
    "two replicas: a Lease elects one writer, one acknowledgement per renewal, and the "
    "standby takes over when the leader dies",
    "[kubernetes]") {
  SecretCli k("k8s-leader");
  REQUIRE(k.run({"init"}).exit_code == 0);
  const std::string lease_name = k.name + "-leader";
  const std::string lease = k.kube.ns + "/" + lease_name;
  const auto holder = [&] { return lease_holder(k, lease_name); };

  Replica a(k, lease, "replica-a");
  REQUIRE(eventually([&] { return holder() == "replica-a"; }, 30s));
  Replica b(k, lease, "replica-b");
  REQUIRE(eventually([&] { return b.readyz().starts_with("200 ready; standby: replica-b"); }, 30s));
  CHECK_THAT(b.readyz(), Catch::Contains("leader: replica-a"));
  CHECK_THAT(a.readyz(), Catch::Contains("leader: replica-a (this replica)"));

  k.cli.tb.renew(k.cli.user, "renewed-leader-1");
  REQUIRE(eventually([&] { return k.cli.tb.ack_count(k.cli.user) == 1; }, 60s));
  CHECK_THAT(k.subject(k.secret()), Catch::Contains("renewed-leader-1"));
  // Two more checks of the leader after it: nothing was owed, nothing sent.
  const auto checks = a.steps("check");
  REQUIRE(eventually([&] { return a.steps("check") >= checks + 2; }, 30s));
  CHECK(k.cli.tb.ack_count(k.cli.user) == 1);
  // The standby never checked, so it never wrote or asked anyone.
  CHECK(b.steps("check") == 0);

  // The leader dies without a word: the standby waits out the lease, then leads.
  CHECK(a.process->stop(SIGKILL) == 128 + SIGKILL);
  REQUIRE(eventually([&] { return holder() == "replica-b"; }, 60s));
  k.cli.tb.renew(k.cli.user, "renewed-leader-2");
  REQUIRE(eventually([&] { return k.cli.tb.ack_count(k.cli.user) == 2; }, 60s));
  CHECK_THAT(k.subject(k.secret()), Catch::Contains("renewed-leader-2"));
  CHECK(k.broker_verdict(k.secret()) == certswap::LiveVerdict::Accepted);

  // A leader that stops hands the Lease back at once.
  CHECK(b.process->stop(SIGTERM) == 0);
  CHECK(holder().empty());
}

TEST_CASE(
    "a leader that lost the Lease before it acknowledged leaves the acknowledgement to the "
    "new leader: the renewal is acknowledged once",
    "[kubernetes]") {
  SecretCli k("k8s-lost-lead");
  REQUIRE(k.run({"init"}).exit_code == 0);
  const std::string lease_name = k.name + "-leader";
  const std::string lease = k.kube.ns + "/" + lease_name;
  // The leader parks between its swap and its acknowledgement (failpoint.hpp).
  const auto parked = k.cli.out.parent_path() / (k.cli.out.filename().string() + ".parked");
  Replica a(k, lease, "replica-a",
            {{"CERTSWAP_FAILPOINT_PAUSE", "before-acknowledge"},
             {"CERTSWAP_FAILPOINT_PAUSE_FILE", parked.string()}});
  REQUIRE(eventually([&] { return lease_holder(k, lease_name) == "replica-a"; }, 30s));
  k.cli.tb.renew(k.cli.user, "renewed-lost-lead");
  REQUIRE(eventually([&] { return fs::exists(parked); }, 60s));
  CHECK_THAT(k.subject(k.secret()), Catch::Contains("renewed-lost-lead"));  // swapped

  // Meanwhile another replica took the Lease (as after a partition): the
  // leader can no longer renew, and gives up at its deadline.
  auto taken = k.kube.call("GET", lease_path(k, lease_name));
  REQUIRE(taken.status == 200);
  taken.body["spec"]["holderIdentity"] = "replica-elsewhere";
  taken.body["spec"]["leaseDurationSeconds"] = 4;
  REQUIRE(k.kube.call("PUT", lease_path(k, lease_name), taken.body).status == 200);
  REQUIRE(eventually(
      [&] { return a.process->output().find("lost the Lease") != std::string::npos; }, 30s));
  fs::remove(parked);
  CHECK(a.process->stop(0, 30s) == certswap::exit_code_for(certswap::ErrorKind::Locked));
  CHECK_THAT(a.process->output(), Catch::Contains("not acknowledging: this replica no longer "
                                                  "holds the Lease"));
  CHECK(k.cli.tb.ack_count(k.cli.user) == 0);

  // The replica that leads next finds the set live and acknowledges it, once.
  Replica b(k, lease, "replica-b");
  REQUIRE(eventually([&] { return k.cli.tb.ack_count(k.cli.user) == 1; }, 60s));
  const auto checks = b.steps("check");
  REQUIRE(eventually([&] { return b.steps("check") >= checks + 2; }, 30s));
  CHECK(k.cli.tb.ack_count(k.cli.user) == 1);
  CHECK(b.process->stop(SIGTERM) == 0);
}
