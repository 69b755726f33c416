// Object key layout: {type}/{tenant}/{yyyymmddHHMM}/{filename}, e.g.
// "videos/input/u123/202504051423/raw.mp4", optionally behind a two-hex-digit hash
// prefix ("3f/videos/input/...") that spreads hot prefixes over S3 partitions.
//
// Every part is checked, because keys come from job requests: a part must be
// non-empty, must not be "." or "..", start with '/', contain a control character
// or a backslash; only `type` may contain '/' (each of its segments checked alike).
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "core/status.h"

namespace swapline::storage {

struct ObjectKeyParts {
  std::string type;      // "videos/input", "images/output", "scratch"
  std::string tenant;    // "u123"
  std::chrono::system_clock::time_point time;  // formatted in UTC
  std::string filename;  // "raw.mp4"
  bool hash_prefix = false;
};

Result<std::string> BuildObjectKey(const ObjectKeyParts& parts);

// Checks one '/'-separated key (each segment as above); used by backends that map
// keys onto paths.
Status ValidateObjectKey(std::string_view key);

}  // namespace swapline::storage
