// swapline: face swapping on images and videos, locally or as a service on object storage.
#include <malloc.h>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <string>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "core/logging.h"
#include "core/version.h"

int main(int argc, char** argv) {
  using namespace swapline;
  // Video frames and per-face planes are megabytes each and are freed every frame.
  // glibc's defaults hand such blocks back to the kernel and fault them in again
  // page by page, which cost half of the paste-back's time on a 1080p close-up;
  // keeping them in the heap bounds resident memory by the job's peak instead.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 128 << 20);
  CLI::App app{"swapline: swap the face of a source photo into target images"};
  app.set_version_flag("--version", std::string("swapline ") + kVersion);
  app.require_subcommand(1);
  std::string log_format = "text";
  std::string log_level = "info";
  app.add_option("--log-format", log_format, "text or json (JSON lines on stderr)")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  app.add_option("--log-level", log_level, "error, warn, info or debug")
      ->check(CLI::IsMember({"error", "warn", "info", "debug"}))
      ->capture_default_str();
  app.fallthrough();

  int exit_code = cli::kExitOk;
  // Logging must be set up before any subcommand callback runs.
  app.parse_complete_callback([&] {
    const Status status = InitLogging(*ParseLogFormat(log_format), log_level);
    if (!status.ok()) throw CLI::ValidationError(status.message());
  });
  cli::RegisterSwapCommand(app, exit_code);
  cli::RegisterBenchCommand(app, exit_code);
  cli::RegisterStoreCommand(app, exit_code);
  cli::RegisterServeCommand(app, exit_code);
  cli::RegisterWorkerCommand(app, exit_code);
  cli::RegisterJobsCommand(app, exit_code);
  cli::RegisterHealthcheckCommand(app, exit_code);
  cli::RegisterModelsCommand(app, exit_code);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return cli::kExitUsage;
  } catch (const std::exception& e) {
    spdlog::critical("internal error: {}", e.what());
    return cli::kExitInternal;
  }
  return exit_code;
}
