#include "storage/object_store.h"

namespace swapline::storage {

Result<std::vector<ObjectInfo>> ListAll(ObjectStore& store, const std::string& prefix) {
  std::vector<ObjectInfo> all;
  ListOptions options;
  options.prefix = prefix;
  do {
    SWAPLINE_ASSIGN_OR_RETURN(ListPage page, store.List(options));
    for (ObjectInfo& info : page.objects) all.push_back(std::move(info));
    options.continuation_token = page.next_continuation_token;
  } while (!options.continuation_token.empty());
  return all;
}

}  // namespace swapline::storage
