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

// Bounds a corrupt header cannot push into a huge allocation.
constexpr std::size_t kMaxSections = 4096, kMaxTable = 64 << 20;

// The value of a defined function `name` in the symbol table of type `type`.
std::optional<std::uint64_t> function_value(std::ifstream& in, const std::vector<Elf64_Shdr>& sh,
                                            std::uint32_t type, std::string_view name) {
  for (const auto& table : sh) {
    if (table.sh_type != type || table.sh_link >= sh.size() ||
        table.sh_entsize != sizeof(Elf64_Sym))
      continue;
    const auto& strings = sh[table.sh_link];
    if (table.sh_size > kMaxTable || strings.sh_size > kMaxTable) continue;
    std::vector<Elf64_Sym> syms(table.sh_size / sizeof(Elf64_Sym));
    std::string names(strings.sh_size, '\0');
    if (!read_at(in, table.sh_offset, syms.data(), syms.size()) ||
        !read_at(in, strings.sh_offset, names.data(), names.size()))
      continue;
    for (const auto& s : syms)
      if (ELF64_ST_TYPE(s.st_info) == STT_FUNC && s.st_shndx != SHN_UNDEF &&
          s.st_name < names.size() && std::string_view(names.c_str() + s.st_name) == name)
        return s.st_value;
  }
  return std::nullopt;
}

// rd_kafka_version() returns RD_KAFKA_VERSION: on x86-64 its code is
// "mov eax, imm32; ret", after an endbr64 in a build with CET.
std::optional<unsigned> constant_returned(std::ifstream& in, const Elf64_Ehdr& eh,
                                          std::uint64_t vaddr) {
  if (eh.e_machine != EM_X86_64 || eh.e_phentsize != sizeof(Elf64_Phdr)) return std::nullopt;
  std::vector<Elf64_Phdr> ph(std::min<std::size_t>(eh.e_phnum, kMaxSections));
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
  std::ifstream in(file, std::ios::binary);
  Elf64_Ehdr eh{};
  if (!in || !read_at(in, 0, &eh) || std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
      eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
      eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shnum == 0 || eh.e_shnum > kMaxSections)
    return std::nullopt;
  std::vector<Elf64_Shdr> sh(eh.e_shnum);
  if (!read_at(in, eh.e_shoff, sh.data(), sh.size())) return std::nullopt;
  auto value = function_value(in, sh, SHT_DYNSYM, "rd_kafka_version");
  if (!value) value = function_value(in, sh, SHT_SYMTAB, "rd_kafka_version");
  if (!value) return std::nullopt;
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
