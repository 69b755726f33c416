#include "service/local_urls.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "storage/hashing.h"

namespace swapline::service {

LocalUrlSigner::LocalUrlSigner(std::string secret) : secret_(std::move(secret)) {
  if (secret_.empty()) {
    secret_.resize(32);
    if (RAND_bytes(reinterpret_cast<unsigned char*>(secret_.data()), static_cast<int>(secret_.size())) != 1) {
      status_ = Internal("cannot generate the URL-signing secret: the system's random generator failed");
    }
  }
}

std::string LocalUrlSigner::Mac(std::string_view method, std::string_view key, std::string_view expires) const {
  const std::string message = std::string(method) + "\n" + std::string(key) + "\n" + std::string(expires);
  return storage::HexEncode(storage::HmacSha256(storage::AsBytes(secret_), message));
}

std::string LocalUrlSigner::Sign(std::string_view base, std::string_view method, std::string_view key,
                                 std::chrono::system_clock::time_point expires) const {
  const std::string expires_text =
      std::to_string(std::chrono::duration_cast<std::chrono::seconds>(expires.time_since_epoch()).count());
  return std::string(base) + "/v1/objects/" + EncodeKeyForPath(key) + "?expires=" + expires_text +
         "&signature=" + Mac(method, key, expires_text);
}

Status LocalUrlSigner::Verify(std::string_view method, std::string_view key, std::string_view expires,
                              std::string_view signature, std::chrono::system_clock::time_point now) const {
  SWAPLINE_RETURN_IF_ERROR(status_);
  long long expires_s = 0;
  try {
    expires_s = std::stoll(std::string(expires));
  } catch (const std::exception&) {
    return PermissionDenied("object URL: bad or missing 'expires'");
  }
  const std::string expected = Mac(method, key, expires);
  if (signature.size() != expected.size() ||
      CRYPTO_memcmp(signature.data(), expected.data(), expected.size()) != 0) {
    return PermissionDenied("object URL: signature does not match (wrong method, key or server secret)");
  }
  if (std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count() > expires_s) {
    return PermissionDenied("object URL: expired");
  }
  return Status::Ok();
}

std::string EncodeKeyForPath(std::string_view key) {
  std::string out;
  char buffer[4];
  for (unsigned char c : key) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
        c == '.' || c == '~' || c == '/') {
      out += static_cast<char>(c);
    } else {
      std::snprintf(buffer, sizeof(buffer), "%%%02X", c);
      out += buffer;
    }
  }
  return out;
}

}  // namespace swapline::service
