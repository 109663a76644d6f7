#pragma once
// What doctor learns from an executable's ELF headers alone.
#include <filesystem>
#include <string_view>

namespace certswap::cli {

// Built by the Go toolchain: its section headers name .go.buildinfo (Go 1.13
// and later, kept by -ldflags=-s -w) or the Go build ID note. False for
// anything unreadable or not a 64-bit little-endian ELF file.
bool is_go_binary(const std::filesystem::path& file);

// Whether the file's .symtab or .dynsym defines `name`: a Go executable with
// librdkafka linked in (confluent-kafka-go's default build) exports nothing of
// it, so only its .symtab says so. False for a stripped or unreadable file.
bool defines_symbol(const std::filesystem::path& file, std::string_view name);

}  // namespace certswap::cli
