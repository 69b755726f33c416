#include "storage/hashing.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/random_text.h"

namespace swapline::storage {

std::string HexEncode(std::span<const std::uint8_t> bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (std::uint8_t b : bytes) {
    out.push_back(kHexDigits[b >> 4]);
    out.push_back(kHexDigits[b & 0xf]);
  }
  return out;
}

std::string Base64Encode(std::span<const std::uint8_t> bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes.data(),
                                      static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(written));
  return out;
}

Sha256Digest Sha256(std::span<const std::uint8_t> bytes) {
  Sha256Digest digest{};
  EVP_Digest(bytes.data(), bytes.size(), digest.data(), nullptr, EVP_sha256(), nullptr);
  return digest;
}

std::string Sha256Hex(std::span<const std::uint8_t> bytes) { return HexEncode(Sha256(bytes)); }

Sha256Digest HmacSha256(std::span<const std::uint8_t> key, std::string_view message) {
  Sha256Digest digest{};
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest.data(),
       &length);
  return digest;
}

template <std::size_t kSize>
struct IncrementalDigest<kSize>::Context {
  static const EVP_MD* Algorithm() { return kSize == 16 ? EVP_md5() : EVP_sha256(); }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~Context() { EVP_MD_CTX_free(ctx); }
};

template <std::size_t kSize>
IncrementalDigest<kSize>::IncrementalDigest() : context_(std::make_unique<Context>()) {
  EVP_DigestInit_ex(context_->ctx, Context::Algorithm(), nullptr);
}

template <std::size_t kSize>
IncrementalDigest<kSize>::~IncrementalDigest() = default;

template <std::size_t kSize>
void IncrementalDigest<kSize>::Update(std::span<const std::uint8_t> bytes) {
  EVP_DigestUpdate(context_->ctx, bytes.data(), bytes.size());
}

template <std::size_t kSize>
std::array<std::uint8_t, kSize> IncrementalDigest<kSize>::Finish() {
  std::array<std::uint8_t, kSize> digest{};
  EVP_DigestFinal_ex(context_->ctx, digest.data(), nullptr);
  EVP_DigestInit_ex(context_->ctx, Context::Algorithm(), nullptr);
  return digest;
}

template class IncrementalDigest<16>;
template class IncrementalDigest<32>;

Md5Digest Md5Of(std::span<const std::uint8_t> bytes) {
  Md5Digest digest{};
  EVP_Digest(bytes.data(), bytes.size(), digest.data(), nullptr, EVP_md5(), nullptr);
  return digest;
}

}  // namespace swapline::storage
