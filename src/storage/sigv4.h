// AWS Signature Version 4 for S3: header signing and presigned query URLs.
//
// We sign ourselves instead of using libcurl's CURLOPT_AWS_SIGV4, which in the
// Debian 12 libcurl does not canonicalise query strings, signs suppressed headers and
// cannot presign. The caller gives the request already split into an encoded path,
// raw (unencoded) query parameters and headers; the signer canonicalises them the way
// AWS does (UriEncode, sorted query with "k=v" for every parameter, lowercase sorted
// header names, trimmed values).
//
// Thread safety: a SigV4Signer is immutable after construction except for its
// derived-key cache, which is guarded; share one signer between threads.
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "storage/credentials.h"
#include "storage/hashing.h"

namespace swapline::storage {

using QueryParams = std::vector<std::pair<std::string, std::string>>;  // raw names and values
using HeaderList = std::vector<std::pair<std::string, std::string>>;

// The payload hash value for bodies that are not hashed (integrity comes from
// Content-MD5 and TLS instead).
inline constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";
// SHA-256 of the empty string: the payload hash of requests without a body.
inline constexpr std::string_view kEmptyPayloadSha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// AWS UriEncode: every byte but A-Za-z0-9-._~ becomes %XX (uppercase hex); '/' is
// kept when `keep_slash` (object key paths) and encoded otherwise (query values).
std::string UriEncode(std::string_view text, bool keep_slash);

// Sorted, encoded "k=v&k2=v2" form, which is both the canonical query and a valid
// URL query string.
std::string CanonicalQueryString(const QueryParams& params);

struct SigningRequest {
  std::string method;         // "GET", "PUT", ...
  std::string encoded_path;   // "/bucket/my%20key", already UriEncoded with keep_slash
  QueryParams query;
  HeaderList headers;         // must hold "host"; names in any case
  std::string payload_hash;   // hex SHA-256 of the body, or kUnsignedPayload
};

class SigV4Signer {
 public:
  SigV4Signer(std::string region, std::string service = "s3");

  const std::string& region() const { return region_; }

  // Adds x-amz-date, x-amz-content-sha256 and (with a session token)
  // x-amz-security-token to request.headers, then adds the Authorization header.
  void SignHeaders(SigningRequest& request, const Credentials& credentials,
                   std::chrono::system_clock::time_point now) const;

  // Returns the query string (canonical form, ending in X-Amz-Signature) of a
  // presigned URL valid for `expires` (1 s .. 7 days) from `now`. Only the host
  // header is signed, the payload is UNSIGNED-PAYLOAD.
  std::string PresignQuery(const SigningRequest& request, const Credentials& credentials,
                           std::chrono::system_clock::time_point now,
                           std::chrono::seconds expires) const;

 private:
  // Hex signature of `request` (whose headers are the signed headers) at `now`.
  std::string Signature(const SigningRequest& request, const std::string& signed_headers,
                        const std::string& canonical_headers, const std::string& amz_date,
                        const Credentials& credentials) const;
  std::string CredentialScope(const std::string& date) const;
  Sha256Digest SigningKey(const std::string& secret, const std::string& date) const;

  std::string region_;
  std::string service_;
  mutable std::mutex cache_mutex_;
  mutable std::string cached_key_id_;  // secret hash + date the cached key was derived for
  mutable Sha256Digest cached_key_{};
};

// "20130524T000000Z"
std::string AmzDate(std::chrono::system_clock::time_point when);

}  // namespace swapline::storage
