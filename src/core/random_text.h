// Random text for ids, tags and lease tokens: unique enough to tell things apart,
// from a per-thread PRNG seeded by std::random_device; not for secrets (those come
// from OpenSSL's RAND_bytes).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace swapline {

// Crockford base32, lowercase, no i, l, o, u: the digits of job ids (ULID layout).
inline constexpr std::string_view kCrockfordBase32 = "0123456789abcdefghjkmnpqrstvwxyz";
inline constexpr std::string_view kHexDigits = "0123456789abcdef";

// `length` characters drawn uniformly from `alphabet`.
std::string RandomText(std::string_view alphabet, std::size_t length);

}  // namespace swapline
