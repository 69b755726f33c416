// The page's files, embedded at build time by embed_assets.cmake from assets/.
#pragma once

#include <span>
#include <string_view>

namespace swapline::service {

struct WebAsset {
  std::string_view name;  // file name in assets/, e.g. "app.js"
  std::string_view bytes;
};

std::span<const WebAsset> WebAssets();

}  // namespace swapline::service
