#include "storage/storage_uri.h"

namespace swapline::storage {
namespace {

// S3 bucket naming rules, the subset that matters for building URLs.
bool ValidBucketName(std::string_view name) {
  if (name.size() < 3 || name.size() > 63) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) return false;
  }
  return name.front() != '-' && name.front() != '.' && name.back() != '-' && name.back() != '.';
}

}  // namespace

std::string StorageUri::ToString() const {
  if (is_s3()) return "s3://" + bucket + "/" + key;
  // A plain path with "://" in it would read back as an unknown scheme.
  const std::string path = local_path.string();
  return path.find("://") == std::string::npos ? path : "file://" + path;
}

Result<StorageUri> ParseStorageUri(std::string_view text) {
  StorageUri uri;
  if (text.starts_with("s3://")) {
    const std::string_view rest = text.substr(5);
    const std::size_t slash = rest.find('/');
    uri.scheme = StorageUri::Scheme::kS3;
    uri.bucket = std::string(rest.substr(0, slash));
    if (slash != std::string_view::npos) uri.key = std::string(rest.substr(slash + 1));
    if (!ValidBucketName(uri.bucket)) {
      return InvalidArgument("'" + std::string(text) +
                             "' does not name a valid S3 bucket (3-63 of a-z 0-9 . -)");
    }
    return uri;
  }
  if (text.starts_with("file://")) {
    uri.local_path = std::string(text.substr(7));
    if (uri.local_path.empty()) return InvalidArgument("'file://' names no folder");
    return uri;
  }
  const std::size_t scheme_end = text.find("://");
  if (scheme_end != std::string_view::npos) {
    return InvalidArgument("unsupported storage URI '" + std::string(text) +
                           "': use s3://bucket/key, file://DIR or a local path");
  }
  if (text.empty()) return InvalidArgument("empty storage path");
  uri.local_path = std::string(text);
  return uri;
}

}  // namespace swapline::storage
