// A full disk while the new generation is written: a real (tiny) tmpfs as the
// output directory, filled up before the rotation.
#include <sys/mount.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "cli_harness.hpp"

using namespace certswap_test;

namespace {

// A tmpfs of `size` mounted for the test's lifetime (the suite runs as root).
struct TinyTmpfs {
  fs::path dir;
  explicit TinyTmpfs(const std::string& size) : dir(fresh_dir("tmpfs")) {
    if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, ("size=" + size).c_str()) != 0)
      FAIL("cannot mount a tmpfs on " << dir << " (" << std::strerror(errno)
                                      << "): the disk-full test needs root");
  }
  ~TinyTmpfs() { ::umount2(dir.c_str(), MNT_DETACH); }
};

// Writes until the file system refuses; returns the filler's path.
fs::path fill_up(const fs::path& dir) {
  const fs::path filler = dir / "filler";
  std::ofstream out(filler, std::ios::binary);
  const std::string block(4096, 'x');
  while (out.write(block.data(), block.size()) && out.flush()) {
  }
  return filler;
}

}  // namespace

TEST_CASE("a full disk during the generation write leaves the live set untouched and says so",
          "[disk-full]") {
  Cli cli("disk-full");
  TinyTmpfs tmpfs("256k");
  const fs::path out = tmpfs.dir / "kafka-creds";
  // The journal stays on the roomy disk: this is about the output directory.
  const std::map<std::string, std::string> env{
      {"CERTSWAP_OUTPUT_DIR", out.string()}, {"CERTSWAP_STATE_DIR", (cli.out / "state").string()}};
  REQUIRE(cli.run({"init"}, env).exit_code == 0);
  const auto before = snapshot_live(out);
  const auto live_generation = fs::read_symlink(out / "..data");

  cli.tb.renew(cli.user, "gen2");
  const fs::path filler = fill_up(tmpfs.dir);
  auto r = cli.run({"rotate"}, env);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, Catch::Contains("No space left on device"));
  CHECK_THAT(r.output, Catch::Contains(out.string()));
  CHECK(snapshot_live(out) == before);
  CHECK(fs::read_symlink(out / "..data") == live_generation);
  CHECK(cli.tb.ack_count(cli.user) == 0);

  // With room again, the next run completes the rotation.
  fs::remove(filler);
  REQUIRE(cli.run({"rotate"}, env).exit_code == 0);
  CHECK(snapshot_live(out) != before);
  CHECK(cli.tb.ack_count(cli.user) == 1);
}
