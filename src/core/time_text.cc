#include "core/time_text.h"

#include <cstdint>
#include <cstdio>
#include <ctime>
#include <iomanip>
#include <locale>
#include <sstream>

namespace swapline {
namespace {

std::optional<std::chrono::system_clock::time_point> Parse(std::string_view text, const char* format) {
  std::tm tm{};
  std::istringstream in{std::string(text)};
  in.imbue(std::locale::classic());
  in >> std::get_time(&tm, format);
  if (in.fail()) return std::nullopt;
  const std::time_t t = timegm(&tm);
  constexpr auto kLimit =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::duration::max()).count();
  if (t >= kLimit || t <= -kLimit) return std::nullopt;
  return std::chrono::system_clock::from_time_t(t);
}

}  // namespace

std::string FormatUtc(std::chrono::system_clock::time_point t, const char* format) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[64];
  const std::size_t n = std::strftime(buffer, sizeof(buffer), format, &tm);
  return std::string(buffer, n);
}

std::string FormatIso8601Millis(std::chrono::system_clock::time_point t) {
  const auto ms_total = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::int64_t secs = ms_total / 1000;
  std::int64_t ms = ms_total % 1000;
  if (ms < 0) {
    ms += 1000;
    secs -= 1;
  }
  const std::time_t tt = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char out[48];
  std::snprintf(out, sizeof(out), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return out;
}

std::optional<std::chrono::system_clock::time_point> ParseIso8601(std::string_view text) {
  return Parse(text, "%Y-%m-%dT%H:%M:%S");
}

std::optional<std::chrono::system_clock::time_point> ParseHttpDate(std::string_view text) {
  return Parse(text, "%a, %d %b %Y %H:%M:%S");
}

}  // namespace swapline
