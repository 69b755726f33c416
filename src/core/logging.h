// Process-wide logging setup on spdlog.
//
// Logs go to stderr; stdout is kept for results a script may read (an output path,
// a job id). Two formats: "text" (coloured when stderr is a TTY) and "json" (one
// JSON object per line: ts, level, msg, plus any fields given to LogEvent), which is
// what log collectors in a cluster read.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace swapline {

enum class LogFormat { kText, kJson };

// Parses "text" or "json".
Result<LogFormat> ParseLogFormat(std::string_view name);

// Replaces the default logger. `level` is one of error, warn, info, debug.
Status InitLogging(LogFormat format, std::string_view level);

LogFormat CurrentLogFormat();

// A structured event: in json format its fields are merged into the line; in text
// format they are appended as key=value.
void LogEvent(std::string_view message, const nlohmann::json& fields);

}  // namespace swapline
