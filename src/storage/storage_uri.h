// Storage URIs as users write them: "s3://bucket/key/with/slashes",
// "file:///abs/dir" or "file://relative/dir", or a plain local path.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "core/status.h"

namespace swapline::storage {

struct StorageUri {
  enum class Scheme { kLocal, kS3 };
  Scheme scheme = Scheme::kLocal;
  std::string bucket;               // kS3
  std::string key;                  // kS3; may be empty or end in '/'
  std::filesystem::path local_path; // kLocal (file:// or a plain path)

  bool is_s3() const { return scheme == Scheme::kS3; }
  // The URI back in its canonical spelling.
  std::string ToString() const;
};

// InvalidArgument for an unknown scheme ("gs://"), an s3 URI without a bucket, or a
// bucket name S3 would refuse.
Result<StorageUri> ParseStorageUri(std::string_view text);

}  // namespace swapline::storage
