#include "service/web/web_ui.h"

#include <spdlog/spdlog.h>

#include <cctype>
#include <chrono>

#include "service/web/web_assets.h"

namespace swapline::service {
namespace {

std::string_view ContentType(std::string_view name) {
  if (name.ends_with(".html")) return "text/html; charset=utf-8";
  if (name.ends_with(".js")) return "text/javascript; charset=utf-8";
  if (name.ends_with(".css")) return "text/css; charset=utf-8";
  if (name.ends_with(".svg")) return "image/svg+xml";
  return "application/octet-stream";
}

// "scheme://host[:port]" of `url`, or "" when it has none or holds characters that
// could change the meaning of a policy header.
std::string Origin(const std::string& url) {
  const std::size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return "";
  const std::size_t path = url.find_first_of("/?#", scheme_end + 3);
  std::string origin = url.substr(0, path);
  if (origin.size() == scheme_end + 3) return "";
  for (const char c : origin) {
    const bool safe = std::isalnum(static_cast<unsigned char>(c)) || c == ':' || c == '/' || c == '.' || c == '-' ||
                      c == '[' || c == ']' || c == '_';
    if (!safe) return "";
  }
  return origin;
}

// The origin the store's presigned URLs point at: S3 stores only (file stores use
// the API's own signed URLs, on this origin).
std::string StoreOrigin(storage::ObjectStore& store, const storage::StorageUri& store_uri) {
  if (!store_uri.is_s3()) return "";
  auto url = store.Presign("swapline-web-origin-probe", storage::PresignMethod::kGet, std::chrono::seconds(60));
  if (!url.ok()) {
    spdlog::warn("web page: cannot presign a URL to learn the store's origin ({}); uploads from the page will fail",
                 url.status().ToString());
    return "";
  }
  return Origin(*url);
}

}  // namespace

std::string WebUiContentSecurityPolicy(const std::string& store_origin) {
  const std::string media = "'self'" + (store_origin.empty() ? "" : " " + store_origin);
  return "default-src 'none'; script-src 'self'; style-src 'self'; img-src " + media + " blob:; media-src " +
         media + " blob:; connect-src " + media + "; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";
}

std::vector<WebPage> WebUiPages(storage::ObjectStore& store, const storage::StorageUri& store_uri) {
  const std::string policy = WebUiContentSecurityPolicy(StoreOrigin(store, store_uri));
  std::vector<WebPage> pages;
  for (const WebAsset& asset : WebAssets()) {
    pages.push_back({asset.name == "index.html" ? "/" : "/ui/" + std::string(asset.name),
                     asset.bytes,
                     {{"Content-Type", std::string(ContentType(asset.name))},
                      {"Content-Security-Policy", policy},
                      {"X-Content-Type-Options", "nosniff"},
                      {"Referrer-Policy", "no-referrer"},
                      {"Cache-Control", "no-cache"}}});
  }
  return pages;
}

}  // namespace swapline::service
