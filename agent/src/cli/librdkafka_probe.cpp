#include "cli/librdkafka_probe.hpp"

#include <elf.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string_view>
#include <vector>

#include "cli/elf_probe.hpp"

namespace certswap::cli {
namespace {

constexpr std::size_t kMaxSegments = 4096;

// rd_kafka_version() returns RD_KAFKA_VERSION: on x86-64 its code is
// "mov eax, imm32; ret", after an endbr64 in a build with CET.
std::optional<unsigned> constant_returned(std::ifstream& in, const Elf64_Ehdr& eh,
                                          std::uint64_t vaddr) {
  if (eh.e_machine != EM_X86_64 || eh.e_phentsize != sizeof(Elf64_Phdr)) return std::nullopt;
  std::vector<Elf64_Phdr> ph(std::min<std::size_t>(eh.e_phnum, kMaxSegments));
  if (!read_at(in, eh.e_phoff, ph.data(), ph.size())) return std::nullopt;
  for (const auto& p : ph) {
    if (p.p_type != PT_LOAD || vaddr < p.p_vaddr || vaddr - p.p_vaddr + 10 > p.p_filesz) continue;
    unsigned char code[10];
    if (!read_at(in, vaddr - p.p_vaddr + p.p_offset, code, sizeof code)) return std::nullopt;
    const unsigned char endbr64[4] = {0xF3, 0x0F, 0x1E, 0xFA};
    const unsigned char* at = std::memcmp(code, endbr64, 4) == 0 ? code + 4 : code;
    if (at[0] != 0xB8 || at[5] != 0xC3) return std::nullopt;
    unsigned v;
    std::memcpy(&v, at + 1, sizeof v);
    return v;
  }
  return std::nullopt;
}

}  // namespace

std::string librdkafka_version_text(unsigned hex) {
  const unsigned pre = hex & 0xff;
  auto text = fmt::format("{}.{}.{}", hex >> 24, (hex >> 16) & 0xff, (hex >> 8) & 0xff);
  if (pre != 0xff) text += fmt::format("-RC{}", pre);
  return text;
}

std::optional<LibrdkafkaBuild> probe_librdkafka(const std::filesystem::path& file) {
  const auto value = symbol_value(file, "rd_kafka_version");
  if (!value) return std::nullopt;
  std::ifstream in(file, std::ios::binary);
  Elf64_Ehdr eh{};
  if (!in || !read_at(in, 0, &eh)) return std::nullopt;
  LibrdkafkaBuild build{};
  if (const auto hex = constant_returned(in, eh, *value))
    build.version = librdkafka_version_text(*hex);
  // The property table holds each name as a string; NUL on both sides keeps
  // a longer name that merely contains it from counting.
  in.clear();
  in.seekg(0);
  const std::string bytes(std::istreambuf_iterator<char>(in), {});
  const std::string needle = std::string(1, '\0') + kNativeReloadProperty + '\0';
  build.native_reload = bytes.find(needle) != std::string::npos;
  return build;
}

}  // namespace certswap::cli
