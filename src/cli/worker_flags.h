// The flags `serve` (embedded workers) and `worker` share: the queue's lease,
// retention and dead-letter size, the drain grace, the workers' folders and
// threads, the operator's job limits, and the S3 settings (cli/s3_flags.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "core/status.h"
#include "service/worker.h"
#include "storage/s3_settings.h"

namespace swapline::cli {

struct WorkerFlags {
  std::string lease;  // "": $SWAPLINE_LEASE or 30s
  std::string job_retention = "7d";
  std::int64_t dead_letter_max = 10'000;
  std::string grace = "30s";
  std::string scratch_dir;
  std::string models_dir;
  std::string models_manifest;
  std::vector<std::string> accepted_licenses;
  storage::S3Settings s3;
  int execution_thread_count = 0;
  std::string limits_file;
  std::vector<std::string> limits;
};

void AddWorkerFlags(CLI::App* cmd, WorkerFlags& flags);

// The workers' folders, models and threads of `flags` set in `options` (the models
// manifest read; errors name the flag).
Status ApplyWorkerFlags(const WorkerFlags& flags, service::WorkerOptions& options);

}  // namespace swapline::cli
