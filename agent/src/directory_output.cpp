#include "certswap/directory_output.hpp"

#include "certswap/rotation.hpp"

namespace certswap {

Result<std::unique_ptr<Output>> open_directory_output(const TargetConfig& target,
                                                      std::vector<std::string> names,
                                                      OutputAccess access) {
  if (access == OutputAccess::Read) {
    auto store = AtomicStore::open_readonly(target.output_dir);
    if (!store) return std::unexpected(store.error());
    return std::make_unique<DirectoryOutput>(std::move(*store), std::move(names));
  }
  StoreOptions options;
  options.key_mode = target.key_mode;
  options.public_mode = target.public_mode;
  options.uid = target.uid;
  options.gid = target.gid;
  options.keep_generations = target.keep_generations;
  auto store = AtomicStore::open(target.output_dir, options);
  if (!store) return std::unexpected(store.error());
  return std::make_unique<DirectoryOutput>(std::move(*store), std::move(names));
}

Result<std::unique_ptr<Output>> open_output(const Target& target, OutputAccess access) {
  if (target.output) return target.output(access);
  return open_directory_output(target.config, target.format->file_names(), access);
}

}  // namespace certswap
