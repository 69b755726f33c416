#include "core/duration.h"

#include <cstdint>

namespace swapline {

Result<std::chrono::milliseconds> ParseDuration(const std::string& text) {
  std::size_t used = 0;
  double number = 0;
  try {
    number = std::stod(text, &used);
  } catch (const std::exception&) {
    return InvalidArgument("'" + text + "' is not a duration (e.g. 500ms, 30s, 2m, 24h, 7d)");
  }
  const std::string unit = text.substr(used);
  double ms = 0;
  if (unit.empty() || unit == "s") ms = number * 1000;
  else if (unit == "ms") ms = number;
  else if (unit == "m") ms = number * 60'000;
  else if (unit == "h") ms = number * 3'600'000;
  else if (unit == "d") ms = number * 86'400'000;
  else return InvalidArgument("'" + text + "': unknown duration unit '" + unit + "' (ms, s, m, h, d)");
  if (ms < 0) return InvalidArgument("'" + text + "': negative duration");
  return std::chrono::milliseconds(static_cast<std::int64_t>(ms));
}

}  // namespace swapline
