// Two replicas of the central certswap on one Secret: a Lease on the real
// kube-apiserver elects the one that writes and acknowledges.
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>

#include "eventually.hpp"
#include "secret_cli.hpp"

using namespace certswap_test;
using namespace std::chrono_literals;

namespace {

using testbed::free_port;

struct Replica {
  int port = free_port();
  std::unique_ptr<testbed::BackgroundProcess> process;

  Replica(const SecretCli& k, const std::string& lease, const std::string& identity) {
    process = std::make_unique<testbed::BackgroundProcess>(
        std::vector<std::string>{certswap_bin(), "run", "--poll-interval", "1s",
                                 "--renewal-poll-interval", "1s", "--leader-lease", lease,
                                 "--leader-identity", identity, "--leader-lease-duration", "6s",
                                 "--listen", "127.0.0.1:" + std::to_string(port)},
        sidecar_env(k), (k.cli.out / (identity + ".log")).string());
  }

  std::string readyz() const {
    httplib::Client client("127.0.0.1", port);
    auto r = client.Get("/readyz");
    return r ? std::to_string(r->status) + " " + r->body : "no answer";
  }

  // Lines of the step `step` in its log (text format: "<target> <step> <status> ...").
  std::size_t steps(const std::string& step) const {
    std::size_t n = 0;
    const auto log = process->output();
    const std::string needle = " " + step + " ";
    for (auto at = log.find(needle); at != std::string::npos; at = log.find(needle, at + 1)) ++n;
    return n;
  }
};

}  // namespace

TEST_CASE(
    "two replicas: a Lease elects one writer, one acknowledgement per renewal, and the "
    "standby takes over when the leader dies",
    "[kubernetes]") {
  SecretCli k("k8s-leader");
  REQUIRE(k.run({"init"}).exit_code == 0);
  const std::string lease_name = k.name + "-leader";
  const std::string lease = k.kube.ns + "/" + lease_name;
  const auto holder = [&] {
    auto r = k.kube.call(
        "GET", "/apis/coordination.k8s.io/v1/namespaces/" + k.kube.ns + "/leases/" + lease_name);
    return r.status == 200 ? r.body["spec"].value("holderIdentity", "") : std::string("<none>");
  };

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
