// libFuzzer target: the JSON configuration file (--config). load_config_file
// only reads a path, so each input is written to one temp file first; the
// targets it accepts then go through finalize_targets, as build_config does.
// parse_duration and parse_mode also get the raw input. Built and run by
// tests/fuzz/run-fuzz.sh.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include "certswap/config.hpp"

namespace {

const std::filesystem::path& input_path() {
  static const std::filesystem::path path = [] {
    const char* tmp = std::getenv("TMPDIR");
    std::string dir = std::string(tmp && *tmp ? tmp : "/tmp") + "/certswap-config-fuzz.XXXXXX";
    if (!mkdtemp(dir.data())) {
      std::perror("config_fuzz: mkdtemp");
      std::abort();
    }
    return std::filesystem::path(dir) / "config.json";
  }();
  return path;
}

}  // namespace

// finalize_targets warns about a group-readable key; at every input, that is noise.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)certswap::parse_duration(text);
  (void)certswap::parse_mode(text);

  FILE* out = std::fopen(input_path().c_str(), "wb");
  if (!out) std::abort();
  if (size > 0 && std::fwrite(data, 1, size, out) != size) std::abort();
  std::fclose(out);

  auto config = certswap::load_config_file(input_path());
  if (!config) return 0;
  (void)certswap::finalize_targets(config->targets);
  return 0;
}
