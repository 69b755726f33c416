// Opens the ObjectStore a URI names: "file://DIR" (or a plain folder path) → FileStore,
// "s3://bucket[/...]" → S3Store with `s3_options`. The URI's key part is ignored.
#pragma once

#include <memory>
#include <string_view>

#include "storage/object_store.h"
#include "storage/s3_store.h"
#include "storage/storage_uri.h"

namespace swapline::storage {

Result<std::unique_ptr<ObjectStore>> OpenObjectStore(const StorageUri& uri,
                                                     const S3Options& s3_options);
Result<std::unique_ptr<ObjectStore>> OpenObjectStore(std::string_view uri,
                                                     const S3Options& s3_options);

}  // namespace swapline::storage
