#include "core/logging.h"

#include "core/time_text.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <mutex>

#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace swapline {
namespace {

LogFormat g_format = LogFormat::kText;

// The message of a structured event is "<text>\x1f<json fields>", split again here.
constexpr char kFieldSeparator = '\x1f';

class JsonLinesSink final : public spdlog::sinks::base_sink<std::mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    std::string_view text(msg.payload.data(), msg.payload.size());
    nlohmann::json line;
    line["ts"] = FormatIso8601Millis(msg.time);
    line["level"] = std::string(spdlog::level::to_string_view(msg.level).data(),
                                spdlog::level::to_string_view(msg.level).size());
    const std::size_t sep = text.find(kFieldSeparator);
    line["msg"] = std::string(text.substr(0, sep));
    if (sep != std::string_view::npos) {
      auto fields = nlohmann::json::parse(text.substr(sep + 1), nullptr, false);
      if (fields.is_object()) {
        for (auto& [key, value] : fields.items()) line[key] = value;
      }
    }
    const std::string out = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    std::fwrite(out.data(), 1, out.size(), stderr);
  }
  void flush_() override { std::fflush(stderr); }
};

}  // namespace

Result<LogFormat> ParseLogFormat(std::string_view name) {
  if (name == "text") return LogFormat::kText;
  if (name == "json") return LogFormat::kJson;
  return InvalidArgument("unknown log format '" + std::string(name) + "' (use text or json)");
}

Status InitLogging(LogFormat format, std::string_view level) {
  const auto parsed = spdlog::level::from_str(std::string(level));
  if (parsed == spdlog::level::off && level != "off") {
    return InvalidArgument("unknown log level '" + std::string(level) +
                           "' (use error, warn, info or debug)");
  }
  std::shared_ptr<spdlog::logger> logger;
  if (format == LogFormat::kJson) {
    logger = std::make_shared<spdlog::logger>("swapline", std::make_shared<JsonLinesSink>());
  } else {
    auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>(
        ::isatty(STDERR_FILENO) ? spdlog::color_mode::automatic : spdlog::color_mode::never);
    logger = std::make_shared<spdlog::logger>("swapline", sink);
    logger->set_pattern("%^%l%$: %v");
  }
  logger->set_level(parsed);
  spdlog::set_default_logger(logger);
  g_format = format;
  return Status::Ok();
}

LogFormat CurrentLogFormat() { return g_format; }

void LogEvent(std::string_view message, const nlohmann::json& fields) {
  if (g_format == LogFormat::kJson) {
    spdlog::info("{}{}{}", message, kFieldSeparator, fields.dump());
    return;
  }
  std::string text(message);
  for (auto& [key, value] : fields.items()) {
    text += " " + key + "=" + (value.is_string() ? value.get<std::string>() : value.dump());
  }
  spdlog::info("{}", text);
}

}  // namespace swapline
