// A directory `avn service user-kafka-java-creds` laid out for a Java app:
// its client.properties names client.truststore.jks (type JKS). certswap's
// pkcs12 format keeps that name current, so the app sees the next project CA.
#include <fstream>

#include "cli_harness.hpp"

using namespace certswap_test;

namespace {

constexpr const char* kAvnPassword = "changeit";  // avn's default (-p/--password)

testbed::ProcessResult must_run(const std::vector<std::string>& argv) {
  auto r = testbed::run_process(argv);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  return r;
}

// What `avn service user-kafka-java-creds -d DIR` writes (aiven-client
// cli.py): the user-creds-download files, a truststore made by keytool
// -importcert (alias "Aiven CA"; here -storetype JKS, as JDK 8's keytool
// made it), a keystore made by `openssl pkcs12 -export`, and client.properties
// with one password for both stores.
void write_avn_java_creds(Cli& cli) {
  auto user = cli.tb.api("GET", "/v1/project/" + cli.tb.project + "/service/" + cli.tb.service +
                                    "/user/" + cli.user + "?include_secrets=true");
  auto ca = cli.tb.api("GET", "/v1/project/" + cli.tb.project + "/kms/ca");
  REQUIRE(user["status"] == 200);
  REQUIRE(ca["status"] == 200);
  const auto key = user["body"]["user"]["access_key"].get<std::string>();
  cli.remember_key(key);
  std::ofstream(cli.out / "service.cert") << user["body"]["user"]["access_cert"].get<std::string>();
  std::ofstream(cli.out / "service.key") << key;
  std::ofstream(cli.out / "ca.pem") << ca["body"]["certificate"].get<std::string>();
  const auto dir = cli.out.string();
  must_run({"/usr/bin/keytool", "-importcert", "-alias", "Aiven CA", "-storetype", "JKS",
            "-keystore", dir + "/client.truststore.jks", "-storepass", kAvnPassword, "-file",
            dir + "/ca.pem", "-noprompt"});
  must_run({"/usr/bin/openssl", "pkcs12", "-export", "-out", dir + "/client.keystore.p12", "-inkey",
            dir + "/service.key", "-in", dir + "/service.cert", "-certfile", dir + "/ca.pem",
            "-passout", std::string("pass:") + kAvnPassword});
  std::ofstream(cli.out / "client.properties")
      << "bootstrap.servers=" << cli.tb.bootstrap << "\nsecurity.protocol=SSL\n"
      << "ssl.protocol=TLS\nssl.key.password=" << kAvnPassword << "\n"
      << "ssl.keystore.location=" << dir << "/client.keystore.p12\n"
      << "ssl.keystore.password=" << kAvnPassword << "\nssl.keystore.type=PKCS12\n"
      << "ssl.truststore.location=" << dir << "/client.truststore.jks\n"
      << "ssl.truststore.password=" << kAvnPassword << "\nssl.truststore.type=JKS\n";
}

// The stores as an unmodified Java app loads them from client.properties.
std::string java_loads(const fs::path& properties) {
  return must_run({"/usr/bin/java", std::string(JAVA_CHECK_DIR) + "/TruststoreCheck.java",
                   properties.string()})
      .output;
}

}  // namespace

TEST_CASE("avn's Java layout: client.truststore.jks gets the next project CA, as JKS loads it",
          "[pkcs12][adoption]") {
  Cli cli("avn-java");
  write_avn_java_creds(cli);
  const auto before = java_loads(cli.out / "client.properties");
  REQUIRE_THAT(before, Catch::Contains("trusted CN=certswap-testbed Project CA") &&
                           !Catch::Contains("(next)"));
  const auto password_file = cli.out.parent_path() / (cli.out.filename().string() + ".pass");
  std::ofstream(password_file) << kAvnPassword << "\n";

  // The project CA is being rotated: the bundle holds the next CA too, and
  // the user's certificate is renewed.
  cli.tb.control_post("/_testbed/ca-bundle", {{"project", cli.tb.project}, {"extra_ca", true}});
  cli.tb.renew(cli.user, "avn-java-renewed");
  auto r =
      cli.run({"rotate", "--format", "pkcs12", "--pkcs12-password-file", password_file.string()});
  cli.tb.control_post("/_testbed/ca-bundle", {{"project", cli.tb.project}, {"extra_ca", false}});
  REQUIRE(r.exit_code == 0);
  CHECK(cli.tb.ack_count(cli.user) == 1);

  // client.properties is avn's, untouched; the name it gives is now ours.
  CHECK(fs::is_symlink(cli.out / "client.truststore.jks"));
  CHECK(read(cli.out / "client.truststore.jks") == read(cli.out / "client.truststore.p12"));
  const auto after = java_loads(cli.out / "client.properties");
  CHECK_THAT(after, Catch::Contains("trusted CN=certswap-testbed Project CA (next)") &&
                        Catch::Contains("OU=avn-java-renewed"));
}

TEST_CASE("the pkcs12 format publishes avn's truststore name in a fresh directory on request",
          "[pkcs12]") {
  Cli cli("jks-flag");
  const auto password_file = cli.out.parent_path() / (cli.out.filename().string() + ".pass");
  std::ofstream(password_file) << "store-pass-123\n";
  REQUIRE(cli.run({"init", "--format", "pkcs12", "--pkcs12-password-file", password_file.string(),
                   "--pkcs12-jks-truststore"})
              .exit_code == 0);
  const auto properties = cli.out.parent_path() / (cli.out.filename().string() + ".properties");
  std::ofstream(properties) << "ssl.truststore.location="
                            << (cli.out / "client.truststore.jks").string()
                            << "\nssl.truststore.password=store-pass-123\nssl.truststore.type=JKS\n"
                            << "ssl.keystore.location="
                            << (cli.out / "client.keystore.p12").string()
                            << "\nssl.keystore.password=store-pass-123\nssl.keystore.type=PKCS12\n";
  CHECK_THAT(java_loads(properties), Catch::Contains("trusted CN=certswap-testbed Project CA") &&
                                         Catch::Contains("key CN=" + cli.user));
}
