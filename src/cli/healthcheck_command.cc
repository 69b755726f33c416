// `swapline healthcheck [--url URL] [--timeout 3s]`: GETs a health endpoint and
// exits 0 on a 2xx answer, 1 otherwise. It is the container image's HEALTHCHECK,
// so the image needs no curl.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "core/duration.h"
#include "storage/http_client.h"

namespace swapline::cli {
namespace {

struct HealthcheckArgs {
  std::string url = "http://127.0.0.1:8080/healthz";
  std::string timeout = "3s";
};

int RunHealthcheck(const HealthcheckArgs& args) {
  if (!args.url.starts_with("http://") && !args.url.starts_with("https://")) {
    return Fail(InvalidArgument("--url must be http://HOST:PORT/PATH"));
  }
  auto timeout = ParseDuration(args.timeout);
  if (!timeout.ok()) return Fail(timeout.status().WithContext("--timeout"));
  storage::HttpOptions options;
  options.connect_timeout = *timeout;
  options.read_timeout = std::max(std::chrono::seconds(1), std::chrono::duration_cast<std::chrono::seconds>(*timeout));
  storage::HttpClient client(options);
  storage::HttpRequest request;
  request.method = "GET";
  request.url = args.url;
  auto response = client.Send(request);
  if (!response.ok()) {
    spdlog::error("healthcheck {}: {}", args.url, response.status().message());
    return 1;
  }
  if (response->status < 200 || response->status >= 300) {
    spdlog::error("healthcheck {}: HTTP {} {}", args.url, response->status, response->body);
    return 1;
  }
  return kExitOk;
}

}  // namespace

void RegisterHealthcheckCommand(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<HealthcheckArgs>();
  CLI::App* cmd = app.add_subcommand("healthcheck", "exit 0 when a health URL answers 2xx (container HEALTHCHECK)");
  cmd->add_option("--url", args->url, "health endpoint, http://HOST:PORT/PATH")->capture_default_str();
  cmd->add_option("--timeout", args->timeout, "connect and read timeout")->capture_default_str();
  cmd->callback([args, &exit_code] { exit_code = RunHealthcheck(*args); });
}

}  // namespace swapline::cli
