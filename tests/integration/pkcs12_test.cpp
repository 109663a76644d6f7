// The pkcs12 format for JVM clients, checked with the JDK's own keytool.
#include <fstream>

#include "cli_harness.hpp"

using namespace certswap_test;

namespace {

std::string keytool_list(const fs::path& store, const std::string& password) {
  // A test password on argv is fine; certswap itself never takes one there.
  auto r = testbed::run_process({"/usr/bin/keytool", "-list", "-v", "-keystore", store.string(),
                                 "-storetype", "PKCS12", "-storepass", password});
  INFO(r.output);
  CHECK(r.exit_code == 0);
  return r.output;
}

}  // namespace

TEST_CASE("pkcs12 stores open in keytool with a password that stays across renewals", "[pkcs12]") {
  for (bool legacy : {false, true}) {
    DYNAMIC_SECTION((legacy ? "legacy 3DES/SHA-1" : "modern AES-256/SHA-256")) {
      Cli cli(legacy ? "p12-legacy" : "p12");
      const auto password_file = cli.out.parent_path() / (cli.out.filename().string() + ".pass");
      std::ofstream(password_file) << "store-pass-123\n";
      std::vector<std::string> format{"--format", "pkcs12", "--pkcs12-password-file",
                                      password_file.string()};
      if (legacy) format.push_back("--pkcs12-legacy");
      auto with = [&](std::vector<std::string> args) {
        args.insert(args.end(), format.begin(), format.end());
        return args;
      };
      REQUIRE(cli.run(with({"init"})).exit_code == 0);
      auto first = keytool_list(cli.out / "client.keystore.p12", "store-pass-123");
      CHECK_THAT(first, Catch::Contains("PrivateKeyEntry") && Catch::Contains("CN=" + cli.user));
      CHECK_THAT(keytool_list(cli.out / "client.truststore.p12", "store-pass-123"),
                 Catch::Contains("trustedCertEntry") && Catch::Contains("Project CA"));
      CHECK((fs::status(cli.out / "client.keystore.p12").permissions() & fs::perms::all) ==
            (fs::perms::owner_read | fs::perms::owner_write));

      cli.tb.renew(cli.user, "p12-renewed");
      REQUIRE(cli.run(with({"rotate"})).exit_code == 0);
      auto second = keytool_list(cli.out / "client.keystore.p12", "store-pass-123");
      CHECK_THAT(second, Catch::Contains("OU=p12-renewed"));
    }
  }
}

TEST_CASE("a missing pkcs12 password file fails the rotation and leaves the live set alone",
          "[pkcs12]") {
  Cli cli("p12-missing");
  REQUIRE(cli.run({"init"}).exit_code == 0);
  const auto before = snapshot_live(cli.out);
  cli.tb.renew(cli.user, "gen2");
  auto r = cli.run(
      {"rotate", "--format", "pkcs12", "--pkcs12-password-file", "/nonexistent/p12-password"});
  CHECK(r.exit_code == 64);
  CHECK_THAT(r.output, Catch::Contains("/nonexistent/p12-password"));
  CHECK(snapshot_live(cli.out) == before);
  CHECK(cli.tb.ack_count(cli.user) == 0);
}

TEST_CASE("a config change re-renders a set that is current: format, password, key mode",
          "[pkcs12][rotation]") {
  Cli cli("rerender");
  REQUIRE(cli.run({"init"}).exit_code == 0);
  const auto marker = cli.out.parent_path() / (cli.out.filename().string() + ".notified");
  const std::vector<std::string> notify{"--notify-exec", "/usr/bin/touch " + marker.string()};
  auto with = [&](std::vector<std::string> args, std::vector<std::string> more) {
    args.insert(args.end(), more.begin(), more.end());
    args.insert(args.end(), notify.begin(), notify.end());
    return args;
  };
  const auto password_file = cli.out.parent_path() / (cli.out.filename().string() + ".pass");
  std::ofstream(password_file) << "first-pass-123\n";
  const std::vector<std::string> p12{"--format", "pkcs12", "--pkcs12-password-file",
                                     password_file.string()};
  const auto cert_before = read(cli.out / "service.cert");

  // pem -> pkcs12 with no renewal upstream: the stores appear, the apps are told.
  auto r = cli.run(with({"rotate", "--detailed-exitcode"}, p12));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Contains("re-rendered"));
  CHECK_THAT(keytool_list(cli.out / "client.keystore.p12", "first-pass-123"),
             Catch::Contains("PrivateKeyEntry") && Catch::Contains("CN=" + cli.user));
  CHECK(fs::exists(marker));
  CHECK(read(cli.out / "service.cert") == cert_before);
  CHECK(cli.tb.ack_count(cli.user) == 0);

  // The same configuration again: nothing to do, nobody told.
  fs::remove(marker);
  r = cli.run(with({"rotate", "--detailed-exitcode"}, p12));
  CHECK(r.exit_code == 0);
  CHECK_FALSE(fs::exists(marker));

  // A new password: the stores open with it, and only with it.
  std::ofstream(password_file) << "second-pass-456\n";
  r = cli.run(with({"rotate", "--detailed-exitcode"}, p12));
  CHECK(r.exit_code == 2);
  CHECK_THAT(keytool_list(cli.out / "client.keystore.p12", "second-pass-456"),
             Catch::Contains("PrivateKeyEntry"));
  CHECK(fs::exists(marker));

  // A new key mode, through init (the init container after a config change).
  fs::remove(marker);
  auto i = cli.run(with({"init", "--key-mode", "0640"}, p12));
  CHECK(i.exit_code == 0);
  CHECK((fs::status(cli.out / "service.key").permissions() & fs::perms::all) ==
        (fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read));
  CHECK((fs::status(cli.out / "client.keystore.p12").permissions() & fs::perms::all) ==
        (fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read));
  CHECK(fs::exists(marker));
  CHECK(read(cli.out / "service.cert") == cert_before);
}
