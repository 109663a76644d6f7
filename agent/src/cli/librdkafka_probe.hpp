#pragma once
// What doctor reads from a librdkafka's file: its version and whether it can
// reload its certificate by itself, so the advice prefers librdkafka's own
// reload once a release has it (PR #5483: ssl.certificate.refresh.interval.ms).
#include <filesystem>
#include <optional>
#include <string>

namespace certswap::cli {

// The configuration property of librdkafka's own certificate reload, as the
// pull request names it; the one an app sets, so its presence is the test.
inline constexpr const char* kNativeReloadProperty = "ssl.certificate.refresh.interval.ms";

struct LibrdkafkaBuild {
  std::string version;  // "2.16.0"; empty when the code of rd_kafka_version() is not a constant
  bool native_reload;   // the file's configuration table names kNativeReloadProperty
};

// For an ELF file that defines rd_kafka_version (exported, or in .symtab for a
// librdkafka linked into a program); nullopt for any other or unreadable file.
std::optional<LibrdkafkaBuild> probe_librdkafka(const std::filesystem::path& file);

// RD_KAFKA_VERSION's hex (0xMMmmrrpp) as librdkafka prints it: "2.16.0",
// "2.17.0-RC1" for a pre-release pp.
std::string librdkafka_version_text(unsigned hex);

}  // namespace certswap::cli
