// Bearer-token authentication: a token file maps secret tokens to tenants.
//
// Token file format: one "TOKEN TENANT" pair per line, separated by whitespace;
// blank lines and lines starting with '#' are ignored. A tenant name is 1-64 of
// [a-z0-9_-] (it becomes part of object keys). The tenant "*" is the event service
// tenant: its token may post S3 bucket notifications for objects of any tenant, and
// nothing else. Tokens shorter than 16 characters are refused (guessable), and so is
// a token listed twice (it would silently belong to the last tenant named).
//
// Lookup is constant-time in the token's content: the presented token and every
// known token are hashed (SHA-256) and all digests are compared with CRYPTO_memcmp,
// so neither the position of a mismatch nor which entry matched shows in the timing.
//
// Thread safety: a TokenTable is immutable after Load; Authenticate may be called
// from many threads.
#pragma once

#include <array>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace swapline::service {

inline constexpr std::string_view kLocalTenant = "local";  // loopback clients without --tokens
inline constexpr std::string_view kEventTenant = "*";
inline constexpr std::string_view kMetricsTenant = "metrics";  // may read /metrics, nothing else

// Checks a tenant name: 1-64 of [a-z0-9_-].
Status ValidateTenantName(std::string_view tenant);

class TokenTable {
 public:
  // Reads a token file; errors name the file and line.
  static Result<TokenTable> Load(const std::filesystem::path& path);
  // From text in the token file format (tests); `origin` names it in messages.
  static Result<TokenTable> Parse(std::string_view text, std::string_view origin);

  // The tenant of `token`, or nullopt.
  std::optional<std::string> Authenticate(std::string_view token) const;

  // The token from an "Authorization: Bearer <token>" header value, or empty.
  static std::string_view BearerToken(std::string_view authorization_header);

  std::size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::array<unsigned char, 32> digest;
    std::string tenant;
  };
  std::vector<Entry> entries_;
};

}  // namespace swapline::service
