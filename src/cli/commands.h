// Subcommands of the swapline CLI. Each Register* adds its subcommand to `app`; when
// the subcommand runs, its callback stores the process exit code in `exit_code`.
// Commands parse and validate options and call into the layers below; they hold no
// pipeline logic.
#pragma once

#include <CLI/CLI.hpp>

namespace swapline::cli {

void RegisterSwapCommand(CLI::App& app, int& exit_code);
void RegisterBenchCommand(CLI::App& app, int& exit_code);
void RegisterStoreCommand(CLI::App& app, int& exit_code);
void RegisterServeCommand(CLI::App& app, int& exit_code);
void RegisterWorkerCommand(CLI::App& app, int& exit_code);
void RegisterJobsCommand(CLI::App& app, int& exit_code);
void RegisterHealthcheckCommand(CLI::App& app, int& exit_code);
void RegisterModelsCommand(CLI::App& app, int& exit_code);

}  // namespace swapline::cli
