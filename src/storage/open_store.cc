#include "storage/open_store.h"

#include "storage/file_store.h"

namespace swapline::storage {

Result<std::unique_ptr<ObjectStore>> OpenObjectStore(const StorageUri& uri,
                                                     const S3Options& s3_options) {
  if (!uri.is_s3()) return OpenFileStore(uri.local_path);
  SWAPLINE_ASSIGN_OR_RETURN(std::unique_ptr<S3Store> store, S3Store::Open(uri.bucket, s3_options));
  return std::unique_ptr<ObjectStore>(std::move(store));
}

Result<std::unique_ptr<ObjectStore>> OpenObjectStore(std::string_view uri,
                                                     const S3Options& s3_options) {
  SWAPLINE_ASSIGN_OR_RETURN(StorageUri parsed, ParseStorageUri(uri));
  return OpenObjectStore(parsed, s3_options);
}

}  // namespace swapline::storage
