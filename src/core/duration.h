// Durations as operators write them in flags and settings: a number (fractions
// allowed) with one unit of ms, s, m, h or d; a bare number is seconds. "250ms",
// "30s", "1.5m", "24h", "7d", "90". Anything else, or a negative duration, is
// kInvalidArgument naming the accepted units.
#pragma once

#include <chrono>
#include <string>

#include "core/status.h"

namespace swapline {

Result<std::chrono::milliseconds> ParseDuration(const std::string& text);

}  // namespace swapline
