#include "storage/content_type.h"

#include <algorithm>
#include <array>
#include <utility>

namespace swapline::storage {

std::string ContentTypeForKey(std::string_view key) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 17> kTypes{{
      {"jpg", "image/jpeg"},       {"jpeg", "image/jpeg"},      {"png", "image/png"},
      {"webp", "image/webp"},      {"bmp", "image/bmp"},        {"gif", "image/gif"},
      {"mp4", "video/mp4"},        {"mov", "video/quicktime"},  {"mkv", "video/x-matroska"},
      {"webm", "video/webm"},      {"avi", "video/x-msvideo"},  {"json", "application/json"},
      {"txt", "text/plain"},       {"xml", "application/xml"},  {"onnx", "application/octet-stream"},
      {"wav", "audio/wav"},        {"mp3", "audio/mpeg"},
  }};
  const std::size_t dot = key.rfind('.');
  const std::size_t slash = key.rfind('/');
  if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash)) {
    return "application/octet-stream";
  }
  std::string extension(key.substr(dot + 1));
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const auto& [ext, type] : kTypes) {
    if (ext == extension) return std::string(type);
  }
  return "application/octet-stream";
}

}  // namespace swapline::storage
