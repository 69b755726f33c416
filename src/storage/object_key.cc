#include "storage/object_key.h"

#include <ctime>

#include "core/time_text.h"
#include "storage/hashing.h"

namespace swapline::storage {
namespace {

Status ValidateSegment(std::string_view segment, std::string_view what) {
  if (segment.empty()) return InvalidArgument(std::string(what) + " has an empty part");
  if (segment == "." || segment == "..") {
    return InvalidArgument(std::string(what) + " must not contain '.' or '..' parts");
  }
  for (unsigned char c : segment) {
    if (c < 0x20 || c == 0x7f) {
      return InvalidArgument(std::string(what) + " must not contain control characters");
    }
    if (c == '\\') return InvalidArgument(std::string(what) + " must not contain '\\'");
  }
  return Status::Ok();
}

Status ValidatePath(std::string_view path, std::string_view what) {
  if (path.empty()) return InvalidArgument(std::string(what) + " is empty");
  if (path.front() == '/') return InvalidArgument(std::string(what) + " must not start with '/'");
  std::size_t start = 0;
  while (true) {
    const std::size_t slash = path.find('/', start);
    SWAPLINE_RETURN_IF_ERROR(ValidateSegment(path.substr(start, slash - start), what));
    if (slash == std::string_view::npos) return Status::Ok();
    start = slash + 1;
  }
}

}  // namespace

Status ValidateObjectKey(std::string_view key) {
  return ValidatePath(key, "object key '" + std::string(key) + "'");
}

Result<std::string> BuildObjectKey(const ObjectKeyParts& parts) {
  SWAPLINE_RETURN_IF_ERROR(ValidatePath(parts.type, "key type"));
  SWAPLINE_RETURN_IF_ERROR(ValidateSegment(parts.tenant, "tenant"));
  SWAPLINE_RETURN_IF_ERROR(ValidateSegment(parts.filename, "file name"));
  if (parts.tenant.find('/') != std::string::npos) {
    return InvalidArgument("tenant must not contain '/'");
  }
  if (parts.filename.find('/') != std::string::npos) {
    return InvalidArgument("file name must not contain '/'");
  }
  std::string key = parts.type + "/" + parts.tenant + "/" + FormatUtc(parts.time, "%Y%m%d%H%M") + "/" + parts.filename;
  if (parts.hash_prefix) {
    // Stable for a key, so a retried job writes to the same place.
    const Sha256Digest digest = Sha256(AsBytes(key));
    key = HexEncode(std::span(digest).first(1)) + "/" + key;
  }
  return key;
}

}  // namespace swapline::storage
