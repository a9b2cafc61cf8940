#include "nimify/state_store.h"

#include "actions/file_state_store.h"

namespace nimify {

StateStore::~StateStore() = default;

FileStateStoreInfo GetFileStateStoreInfo(const StateStore& store) {
  const FileStateStoreInfo* info = actions::FileStateStoreInfoOf(store);
  return info ? *info : FileStateStoreInfo{};
}

Result<std::unique_ptr<StateStore>> OpenFileStateStore(const std::string& directory,
                                                       FileStateStoreOptions options) {
  return actions::OpenFileStateStoreWithHooks(directory, options, {});
}

}  // namespace nimify
