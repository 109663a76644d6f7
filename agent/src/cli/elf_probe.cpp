#include "cli/elf_probe.hpp"

#include <elf.h>

#include <cstring>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

namespace certswap::cli {
namespace {}  // namespace

bool is_go_binary(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  Elf64_Ehdr eh{};
  if (!in || !read_at(in, 0, &eh) || std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
      eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
      eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shnum == 0 || eh.e_shstrndx >= eh.e_shnum)
    return false;
  // Bounds a corrupt header cannot push into a huge allocation.
  constexpr std::size_t kMaxSections = 4096, kMaxNames = 1 << 20;
  if (eh.e_shnum > kMaxSections) return false;
  std::vector<Elf64_Shdr> sections(eh.e_shnum);
  if (!read_at(in, eh.e_shoff, sections.data(), sections.size())) return false;
  const auto& names_header = sections[eh.e_shstrndx];
  if (names_header.sh_size == 0 || names_header.sh_size > kMaxNames) return false;
  std::string names(names_header.sh_size, '\0');
  if (!read_at(in, names_header.sh_offset, names.data(), names.size())) return false;
  for (const auto& s : sections) {
    if (s.sh_name >= names.size()) continue;
    const std::string_view name(names.c_str() + s.sh_name);
    if (name == ".go.buildinfo" || name == ".note.go.buildid") return true;
  }
  return false;
}

}  // namespace certswap::cli
