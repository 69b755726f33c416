// Content-Type of an object from its key's file extension, for PUTs without an
// explicit type (browsers opening presigned URLs rely on it).
#pragma once

#include <string>
#include <string_view>

namespace swapline::storage {

// "image/jpeg" for "a/b.JPG"; "application/octet-stream" when unknown.
std::string ContentTypeForKey(std::string_view key);

}  // namespace swapline::storage
