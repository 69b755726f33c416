#include "storage/url.h"

#include <curl/curl.h>

#include <cctype>
#include <memory>

namespace swapline::storage {
namespace {

using UrlHandle = std::unique_ptr<CURLU, decltype(&curl_url_cleanup)>;

std::optional<std::string> Part(CURLU* handle, CURLUPart which, unsigned flags) {
  char* value = nullptr;
  if (curl_url_get(handle, which, &value, flags) != CURLUE_OK || value == nullptr) return std::nullopt;
  std::string out(value);
  curl_free(value);
  return out;
}

std::string Lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

}  // namespace

std::string Url::HostPort() const {
  std::string out = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (port) out += ":" + std::to_string(*port);
  return out;
}

Result<Url> ParseUrl(std::string_view text, std::string_view default_scheme) {
  UrlHandle handle(curl_url(), curl_url_cleanup);
  if (!handle) return Internal("out of memory");
  std::string input(text);
  if (!default_scheme.empty() && input.find("://") == std::string::npos) {
    input = std::string(default_scheme) + "://" + input;
  }
  const CURLUcode rc = curl_url_set(handle.get(), CURLUPART_URL, input.c_str(), CURLU_NON_SUPPORT_SCHEME);
  if (rc != CURLUE_OK) return InvalidArgument(std::string("not a valid URL: ") + curl_url_strerror(rc));
  Url url;
  url.scheme = Lower(Part(handle.get(), CURLUPART_SCHEME, 0).value_or(""));
  url.user = Part(handle.get(), CURLUPART_USER, CURLU_URLDECODE);
  url.password = Part(handle.get(), CURLUPART_PASSWORD, CURLU_URLDECODE);
  url.host = Lower(Part(handle.get(), CURLUPART_HOST, 0).value_or(""));
  if (url.host.size() > 2 && url.host.front() == '[' && url.host.back() == ']') {
    url.host = url.host.substr(1, url.host.size() - 2);
  }
  if (const std::optional<std::string> port = Part(handle.get(), CURLUPART_PORT, 0)) url.port = std::stoi(*port);
  url.path = Part(handle.get(), CURLUPART_PATH, CURLU_URLDECODE).value_or("/");
  url.query = Part(handle.get(), CURLUPART_QUERY, 0).value_or("");
  return url;
}

std::string RedactPassword(std::string_view url) {
  UrlHandle handle(curl_url(), curl_url_cleanup);
  const std::string input(url);
  if (!handle || curl_url_set(handle.get(), CURLUPART_URL, input.c_str(), CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) {
    // Malformed (an unencoded '/' in a password, a bad port): everything between
    // "://" and the last '@' may be secret.
    const std::size_t scheme_end = input.find("://");
    const std::size_t at = input.rfind('@');
    if (scheme_end == std::string::npos || at == std::string::npos || at < scheme_end) return input;
    const std::string userinfo = input.substr(scheme_end + 3, at - scheme_end - 3);
    const std::size_t colon = userinfo.find(':');
    return input.substr(0, scheme_end + 3) + (colon == std::string::npos ? "***" : userinfo.substr(0, colon) + ":***") +
           input.substr(at);
  }
  if (!Part(handle.get(), CURLUPART_PASSWORD, 0)) return input;
  curl_url_set(handle.get(), CURLUPART_PASSWORD, "***", 0);
  return Part(handle.get(), CURLUPART_URL, 0).value_or(input);
}

std::string PercentDecode(std::string_view text) {
  // curl takes a length of 0 as "NUL-terminated" and would read past a view.
  if (text.empty()) return std::string();
  int length = 0;
  char* decoded = curl_easy_unescape(nullptr, text.data(), static_cast<int>(text.size()), &length);
  if (decoded == nullptr) return std::string(text);
  std::string out(decoded, static_cast<std::size_t>(length));
  curl_free(decoded);
  return out;
}

}  // namespace swapline::storage
