// URLs split by libcurl's URL API (curl_url), the parser the HTTP client itself
// uses: queue URIs (redis://), S3 endpoints and callback URLs. User, password and
// path come percent-decoded, so a password with '/', '?', '@' or ':' is written
// %2F, %3F, %40, %3A. Any scheme is accepted; text without "scheme://" takes
// `default_scheme`, or is refused when that is empty. kInvalidArgument with curl's reason for malformed text (no
// host, a port outside 0..65535, bad characters).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"

namespace swapline::storage {

struct Url {
  std::string scheme;                   // lowercase
  std::optional<std::string> user;      // decoded; nullopt when the URL has no userinfo
  std::optional<std::string> password;  // decoded
  std::string host;                     // lowercase, without the brackets of an IPv6 address
  std::optional<int> port;              // only when the URL names one
  std::string path;                     // decoded; "/" when empty
  std::string query;                    // as written (split on '&' before decoding)

  // "host", "host:port", "[v6]:port": the authority without userinfo.
  std::string HostPort() const;
};

Result<Url> ParseUrl(std::string_view text, std::string_view default_scheme = "");

// `url` with its password replaced by "***" (for messages); `url` itself when it
// has none. Malformed text loses all it has between "://" and its last '@'.
std::string RedactPassword(std::string_view url);

// %XX sequences decoded; '+' stays '+' (this is not form encoding).
std::string PercentDecode(std::string_view text);

}  // namespace swapline::storage
