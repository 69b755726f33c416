// The swap option flags (pipeline/swap_options.h) on a CLI11 command, shared by
// `swapline swap` and `swapline jobs submit`, so both take the same options.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "pipeline/swap_options.h"

namespace swapline::cli {

// Adds one "--<name>" flag per swap option, bound to `options`'s fields.
void AddSwapOptionFlags(CLI::App* cmd, pipeline::SwapOptions& options);

// Names (without dashes) of the swap options given on the command line.
std::vector<std::string> GivenSwapOptionNames(const CLI::App* cmd);

}  // namespace swapline::cli
