// UTC times as text, in the forms the project writes (job records, logs, object
// keys, SigV4) and the two S3 sends (ISO 8601 in XML, HTTP dates in headers).
// Parsers answer nullopt for malformed text and for times outside what
// std::chrono::system_clock can hold (years 1678..2262): such a time is no time at
// all, not an overflow.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace swapline {

// `t` (whole seconds) through strftime `format` in UTC, e.g. "%Y%m%dT%H%M%SZ".
std::string FormatUtc(std::chrono::system_clock::time_point t, const char* format);

// "2025-04-05T14:23:01.123Z".
std::string FormatIso8601Millis(std::chrono::system_clock::time_point t);

// "2025-04-05T14:23:01" and anything after it (fraction, zone) ignored: UTC, whole
// seconds, as S3 writes LastModified.
std::optional<std::chrono::system_clock::time_point> ParseIso8601(std::string_view text);

// "Fri, 24 May 2013 00:00:00 GMT" (RFC 9110 IMF-fixdate).
std::optional<std::chrono::system_clock::time_point> ParseHttpDate(std::string_view text);

}  // namespace swapline
