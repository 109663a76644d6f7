#pragma once
// What doctor learns from an executable's ELF headers alone.
#include <filesystem>

namespace certswap::cli {

// Built by the Go toolchain: its section headers name .go.buildinfo (Go 1.13
// and later, kept by -ldflags=-s -w) or the Go build ID note. False for
// anything unreadable or not a 64-bit little-endian ELF file.
bool is_go_binary(const std::filesystem::path& file);

}  // namespace certswap::cli
