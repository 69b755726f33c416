#include "storage/sigv4.h"

#include "core/time_text.h"

#include <algorithm>
#include <ctime>

namespace swapline::storage {
namespace {

std::string Lowercase(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// Header values are trimmed and inner runs of spaces collapse to one.
std::string TrimHeaderValue(std::string_view value) {
  std::string out;
  bool pending_space = false;
  for (char c : value) {
    if (c == ' ' || c == '\t') {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

// Sorted lowercase headers: ("a;b;c", "a:1\nb:2\nc:3\n").
std::pair<std::string, std::string> CanonicalHeaders(const HeaderList& headers) {
  std::vector<std::pair<std::string, std::string>> sorted;
  sorted.reserve(headers.size());
  for (const auto& [name, value] : headers) sorted.emplace_back(Lowercase(name), TrimHeaderValue(value));
  std::sort(sorted.begin(), sorted.end());
  std::string names, lines;
  for (const auto& [name, value] : sorted) {
    if (!names.empty()) names.push_back(';');
    names += name;
    lines += name + ":" + value + "\n";
  }
  return {names, lines};
}

}  // namespace

std::string UriEncode(std::string_view text, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size() * 3 / 2);
  for (unsigned char c : text) {
    const bool unreserved = std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
    if (unreserved || (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  return out;
}

std::string CanonicalQueryString(const QueryParams& params) {
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(params.size());
  for (const auto& [name, value] : params) {
    encoded.emplace_back(UriEncode(name, false), UriEncode(value, false));
  }
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [name, value] : encoded) {
    if (!out.empty()) out.push_back('&');
    out += name + "=" + value;
  }
  return out;
}

std::string AmzDate(std::chrono::system_clock::time_point when) {
  return FormatUtc(when, "%Y%m%dT%H%M%SZ");
}

SigV4Signer::SigV4Signer(std::string region, std::string service)
    : region_(std::move(region)), service_(std::move(service)) {}

std::string SigV4Signer::CredentialScope(const std::string& date) const {
  return date + "/" + region_ + "/" + service_ + "/aws4_request";
}

Sha256Digest SigV4Signer::SigningKey(const std::string& secret, const std::string& date) const {
  // The derived key changes once a day; cache it so a transfer's thousand parts
  // cost one HMAC each instead of five. The cache is keyed by a hash, not the secret.
  const std::string cache_id = Sha256Hex(AsBytes(secret)) + date;
  std::lock_guard lock(cache_mutex_);
  if (cache_id != cached_key_id_) {
    const std::string k_secret = "AWS4" + secret;
    Sha256Digest key = HmacSha256(AsBytes(k_secret), date);
    key = HmacSha256(key, region_);
    key = HmacSha256(key, service_);
    cached_key_ = HmacSha256(key, "aws4_request");
    cached_key_id_ = cache_id;
  }
  return cached_key_;
}

std::string SigV4Signer::Signature(const SigningRequest& request, const std::string& signed_headers,
                                   const std::string& canonical_headers,
                                   const std::string& amz_date,
                                   const Credentials& credentials) const {
  const std::string canonical_request = request.method + "\n" + request.encoded_path + "\n" +
                                        CanonicalQueryString(request.query) + "\n" +
                                        canonical_headers + "\n" + signed_headers + "\n" +
                                        request.payload_hash;
  const std::string date = amz_date.substr(0, 8);
  const std::string string_to_sign = "AWS4-HMAC-SHA256\n" + amz_date + "\n" + CredentialScope(date) +
                                     "\n" + Sha256Hex(AsBytes(canonical_request));
  return HexEncode(HmacSha256(SigningKey(credentials.secret_access_key, date), string_to_sign));
}

void SigV4Signer::SignHeaders(SigningRequest& request, const Credentials& credentials,
                              std::chrono::system_clock::time_point now) const {
  const std::string amz_date = AmzDate(now);
  request.headers.emplace_back("x-amz-date", amz_date);
  request.headers.emplace_back("x-amz-content-sha256", request.payload_hash);
  if (!credentials.session_token.empty()) {
    request.headers.emplace_back("x-amz-security-token", credentials.session_token);
  }
  const auto [signed_headers, canonical_headers] = CanonicalHeaders(request.headers);
  const std::string signature =
      Signature(request, signed_headers, canonical_headers, amz_date, credentials);
  request.headers.emplace_back(
      "Authorization", "AWS4-HMAC-SHA256 Credential=" + credentials.access_key_id + "/" +
                           CredentialScope(amz_date.substr(0, 8)) +
                           ",SignedHeaders=" + signed_headers + ",Signature=" + signature);
}

std::string SigV4Signer::PresignQuery(const SigningRequest& request,
                                      const Credentials& credentials,
                                      std::chrono::system_clock::time_point now,
                                      std::chrono::seconds expires) const {
  const std::string amz_date = AmzDate(now);
  SigningRequest presigned;
  presigned.method = request.method;
  presigned.encoded_path = request.encoded_path;
  presigned.payload_hash = std::string(kUnsignedPayload);
  for (const auto& [name, value] : request.headers) {
    if (Lowercase(name) == "host") presigned.headers.emplace_back("host", value);
  }
  presigned.query = request.query;
  presigned.query.emplace_back("X-Amz-Algorithm", "AWS4-HMAC-SHA256");
  presigned.query.emplace_back("X-Amz-Credential", credentials.access_key_id + "/" +
                                                       CredentialScope(amz_date.substr(0, 8)));
  presigned.query.emplace_back("X-Amz-Date", amz_date);
  presigned.query.emplace_back("X-Amz-Expires", std::to_string(expires.count()));
  presigned.query.emplace_back("X-Amz-SignedHeaders", "host");
  if (!credentials.session_token.empty()) {
    presigned.query.emplace_back("X-Amz-Security-Token", credentials.session_token);
  }
  const auto [signed_headers, canonical_headers] = CanonicalHeaders(presigned.headers);
  const std::string signature =
      Signature(presigned, signed_headers, canonical_headers, amz_date, credentials);
  return CanonicalQueryString(presigned.query) + "&X-Amz-Signature=" + signature;
}

}  // namespace swapline::storage
