#pragma once
// What doctor learns from an executable's ELF headers alone.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string_view>

namespace certswap::cli {

// `count` objects of T from `offset` of the file; false when it is shorter.
template <typename T>
bool read_at(std::ifstream& in, std::uint64_t offset, T* out, std::size_t count = 1) {
  in.seekg(static_cast<std::streamoff>(offset));
  in.read(reinterpret_cast<char*>(out), static_cast<std::streamsize>(sizeof(T) * count));
  return static_cast<std::size_t>(in.gcount()) == sizeof(T) * count;
}

// Built by the Go toolchain: its section headers name .go.buildinfo (Go 1.13
// and later, kept by -ldflags=-s -w) or the Go build ID note. False for
// anything unreadable or not a 64-bit little-endian ELF file.
bool is_go_binary(const std::filesystem::path& file);

// The value of `name` where the file's .dynsym, else its .symtab, defines it:
// a Go executable with librdkafka linked in (confluent-kafka-go's default
// build) exports nothing of it, so only its .symtab says so. nullopt for a
// stripped or unreadable file.
std::optional<std::uint64_t> symbol_value(const std::filesystem::path& file, std::string_view name);

inline bool defines_symbol(const std::filesystem::path& file, std::string_view name) {
  return symbol_value(file, name).has_value();
}

}  // namespace certswap::cli
