#include "cli/elf_probe.hpp"

#include <elf.h>

#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace certswap::cli {
namespace {

struct Sections {
  std::vector<Elf64_Shdr> headers;
  std::size_t names;  // the index of the section names' section
};

// The section headers of a 64-bit little-endian ELF file; nullopt for
// anything else.
std::optional<Sections> section_headers(std::ifstream& in) {
  Elf64_Ehdr eh{};
  if (!in || !read_at(in, 0, &eh) || std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
      eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
      eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shnum == 0 || eh.e_shstrndx >= eh.e_shnum)
    return std::nullopt;
  // Bounds a corrupt header cannot push into a huge allocation.
  constexpr std::size_t kMaxSections = 4096;
  if (eh.e_shnum > kMaxSections) return std::nullopt;
  std::vector<Elf64_Shdr> sections(eh.e_shnum);
  if (!read_at(in, eh.e_shoff, sections.data(), sections.size())) return std::nullopt;
  return Sections{std::move(sections), eh.e_shstrndx};
}

std::optional<std::string> section_bytes(std::ifstream& in, const Elf64_Shdr& s, std::size_t max) {
  if (s.sh_size == 0 || s.sh_size > max) return std::nullopt;
  std::string bytes(s.sh_size, '\0');
  if (!read_at(in, s.sh_offset, bytes.data(), bytes.size())) return std::nullopt;
  return bytes;
}

}  // namespace

bool is_go_binary(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  auto sections = section_headers(in);
  if (!sections) return false;
  const auto names = section_bytes(in, sections->headers[sections->names], 1 << 20);
  if (!names) return false;
  for (const auto& s : sections->headers) {
    if (s.sh_name >= names->size()) continue;
    const std::string_view name(names->c_str() + s.sh_name);
    if (name == ".go.buildinfo" || name == ".note.go.buildid") return true;
  }
  return false;
}

std::optional<std::uint64_t> symbol_value(const std::filesystem::path& file,
                                          std::string_view name) {
  std::ifstream in(file, std::ios::binary);
  auto sections = section_headers(in);
  if (!sections) return std::nullopt;
  const auto& headers = sections->headers;
  // A large program's tables are some megabytes; more is not a file to trust.
  constexpr std::size_t kMaxTable = 256 << 20;
  for (const std::uint32_t type : {SHT_DYNSYM, SHT_SYMTAB}) {
    for (const auto& s : headers) {
      if (s.sh_type != type || s.sh_entsize != sizeof(Elf64_Sym) || s.sh_link >= headers.size())
        continue;
      const auto table = section_bytes(in, s, kMaxTable);
      const auto strings = section_bytes(in, headers[s.sh_link], kMaxTable);
      if (!table || !strings) continue;
      for (std::size_t at = 0; at + sizeof(Elf64_Sym) <= table->size(); at += sizeof(Elf64_Sym)) {
        Elf64_Sym sym;
        std::memcpy(&sym, table->data() + at, sizeof sym);
        if (sym.st_shndx == SHN_UNDEF || sym.st_name >= strings->size()) continue;
        if (std::string_view(strings->c_str() + sym.st_name) == name) return sym.st_value;
      }
    }
  }
  return std::nullopt;
}

}  // namespace certswap::cli
