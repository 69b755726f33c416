// Digests and encodings used by the storage layer: SHA-256 and HMAC for SigV4,
// MD5 for Content-MD5 and S3 ETags, hex and base64 for headers.
//
// Thread safety: free functions are thread-safe; one IncrementalDigest is used by
// one thread at a time.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace swapline::storage {

using Sha256Digest = std::array<std::uint8_t, 32>;
using Md5Digest = std::array<std::uint8_t, 16>;

inline std::span<const std::uint8_t> AsBytes(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

std::string HexEncode(std::span<const std::uint8_t> bytes);
std::string Base64Encode(std::span<const std::uint8_t> bytes);

Sha256Digest Sha256(std::span<const std::uint8_t> bytes);
std::string Sha256Hex(std::span<const std::uint8_t> bytes);
Sha256Digest HmacSha256(std::span<const std::uint8_t> key, std::string_view message);

// Incremental digests: MD5 (S3 ETags and Content-MD5 are MD5 whatever else we would
// prefer) and SHA-256 (files checked against a published checksum).
template <std::size_t kSize>
class IncrementalDigest {
 public:
  IncrementalDigest();
  ~IncrementalDigest();
  IncrementalDigest(const IncrementalDigest&) = delete;
  IncrementalDigest& operator=(const IncrementalDigest&) = delete;

  void Update(std::span<const std::uint8_t> bytes);
  // Returns the digest and starts over.
  std::array<std::uint8_t, kSize> Finish();

 private:
  struct Context;
  std::unique_ptr<Context> context_;
};
using Md5 = IncrementalDigest<16>;
using Sha256Hasher = IncrementalDigest<32>;

Md5Digest Md5Of(std::span<const std::uint8_t> bytes);

}  // namespace swapline::storage
