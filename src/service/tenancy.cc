#include "service/tenancy.h"

#include <array>
#include <cctype>
#include <filesystem>

#include "core/random_text.h"
#include "job/job_spec.h"
#include "storage/object_key.h"

namespace swapline::service {
namespace {

bool IsHex2(std::string_view part) {
  auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); };
  return part.size() == 2 && hex(part[0]) && hex(part[1]);
}

}  // namespace

Status CheckTenantKey(std::string_view tenant, std::string_view key) {
  const Status valid = storage::ValidateObjectKey(key);
  if (!valid.ok()) return InvalidArgument(valid.message());
  std::string_view rest = key;
  const std::size_t first = rest.find('/');
  if (first != std::string_view::npos && IsHex2(rest.substr(0, first))) rest.remove_prefix(first + 1);
  static constexpr std::array<std::string_view, 4> kTypes = {"images/input/", "videos/input/", "images/output/",
                                                            "videos/output/"};
  for (std::string_view type : kTypes) {
    if (rest.substr(0, type.size()) != type) continue;
    std::string_view after = rest.substr(type.size());
    if (after.size() > tenant.size() && after.substr(0, tenant.size()) == tenant && after[tenant.size()] == '/' &&
        after.size() > tenant.size() + 1) {
      return Status::Ok();
    }
    break;
  }
  return PermissionDenied("key '" + std::string(key) + "' is not under tenant '" + std::string(tenant) +
                          "' prefixes ({images,videos}/{input,output}/" + std::string(tenant) + "/)");
}

Result<std::string> UploadKey(std::string_view tenant, std::string_view filename,
                              std::chrono::system_clock::time_point now) {
  if (filename.empty() || filename.size() > 200 || filename.find('/') != std::string_view::npos ||
      filename.find('\\') != std::string_view::npos || filename == "." || filename == ".." ||
      filename.front() == '.') {
    return InvalidArgument("filename: must be a plain file name (no '/', not starting with '.'), 1-200 bytes");
  }
  for (char c : filename) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return InvalidArgument("filename: control character");
  }
  storage::ObjectKeyParts parts;
  parts.type = job::MediaKindOfName(filename) == "video" ? "videos/input" : "images/input";
  parts.tenant = std::string(tenant);
  parts.time = now;
  parts.filename = RandomText(kCrockfordBase32, 8) + "-" + std::string(filename);
  auto key = storage::BuildObjectKey(parts);
  if (!key.ok()) return InvalidArgument("filename: " + key.status().message());
  return key;
}

Result<std::string> KeyInStore(const storage::StorageUri& store_uri, std::string_view reference,
                               std::string_view field) {
  const std::string where(field);
  if (reference.substr(0, 5) == "s3://") {
    auto uri = storage::ParseStorageUri(reference);
    if (!uri.ok()) return InvalidArgument(where + ": " + uri.status().message());
    if (!store_uri.is_s3() || uri->bucket != store_uri.bucket) {
      return InvalidArgument(where + ": '" + std::string(reference) + "' is not in this service's store (" +
                             store_uri.ToString() + ")");
    }
    if (uri->key.empty()) return InvalidArgument(where + ": names a bucket, not an object");
    return uri->key;
  }
  if (reference.substr(0, 7) == "file://") {
    auto uri = storage::ParseStorageUri(reference);
    if (!uri.ok()) return InvalidArgument(where + ": " + uri.status().message());
    if (store_uri.is_s3()) {
      return InvalidArgument(where + ": file:// references need a file:// store; this one is " + store_uri.ToString());
    }
    const auto root = std::filesystem::weakly_canonical(std::filesystem::absolute(store_uri.local_path));
    const auto path = std::filesystem::absolute(uri->local_path).lexically_normal();
    const auto relative = path.lexically_relative(root);
    const std::string key = relative.generic_string();
    if (relative.empty() || key.substr(0, 2) == ".." || relative.is_absolute()) {
      return InvalidArgument(where + ": '" + std::string(reference) + "' is outside the store's folder");
    }
    return key;
  }
  if (reference.find("://") != std::string_view::npos) {
    return InvalidArgument(where + ": unsupported scheme in '" + std::string(reference) +
                           "' (use an object key, s3:// or file://)");
  }
  return std::string(reference);
}

std::string UriOfKey(const storage::StorageUri& store_uri, std::string_view key) {
  if (store_uri.is_s3()) return "s3://" + store_uri.bucket + "/" + std::string(key);
  return std::string(key);  // never the server's absolute path
}

}  // namespace swapline::service
