// Signed object URLs served by the API itself, for file:// stores, which cannot
// presign: "{base}/v1/objects/{key}?expires={unix s}&signature={hex}" where the
// signature is HMAC-SHA256(secret, "{METHOD}\n{key}\n{expires}"). The API answers
// PUT (stream the body into the store) and GET (the object's bytes) on such URLs,
// like an S3 presigned URL: anyone holding the URL may use it until it expires, and
// it grants exactly one method on one key.
//
// The secret is random per process unless the operator sets SWAPLINE_URL_SECRET, so
// URLs die with the server unless configured otherwise (several API replicas on one
// file store need the same secret).
//
// Thread safety: immutable after construction.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "core/status.h"

namespace swapline::service {

class LocalUrlSigner {
 public:
  // Empty `secret`: 32 random bytes. When the system's generator fails, status()
  // says so and every Verify fails.
  explicit LocalUrlSigner(std::string secret);
  Status status() const { return status_; }

  // The full URL (`base` like "http://127.0.0.1:8080", no trailing slash).
  std::string Sign(std::string_view base, std::string_view method, std::string_view key,
                   std::chrono::system_clock::time_point expires) const;

  // OK when `signature` matches and `expires` (unix seconds, as text) is in the
  // future; PermissionDenied otherwise.
  Status Verify(std::string_view method, std::string_view key, std::string_view expires,
                std::string_view signature, std::chrono::system_clock::time_point now) const;

 private:
  std::string Mac(std::string_view method, std::string_view key, std::string_view expires) const;
  std::string secret_;
  Status status_;
};

// Percent-encodes a key for a URL path (keeps '/' and unreserved characters).
std::string EncodeKeyForPath(std::string_view key);

}  // namespace swapline::service
