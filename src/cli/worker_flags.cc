#include "cli/worker_flags.h"

#include "cli/s3_flags.h"
#include "core/env.h"

namespace swapline::cli {

void AddWorkerFlags(CLI::App* cmd, WorkerFlags& flags) {
  cmd->add_option("--lease", flags.lease, "job lease, renewed every lease/3 (default $SWAPLINE_LEASE or 30s)");
  cmd->add_option("--job-retention", flags.job_retention, "ended jobs are deleted this long after they ended (0: never)")
      ->capture_default_str();
  cmd->add_option("--dead-letter-max", flags.dead_letter_max, "Redis: entries kept in the dead-letter stream")
      ->capture_default_str();
  cmd->add_option("--grace", flags.grace, "SIGTERM: time running jobs get to finish before release")
      ->capture_default_str();
  cmd->add_option("--scratch-dir", flags.scratch_dir, "workers' scratch folder (default $TMPDIR/swapline-scratch)");
  cmd->add_option("--models-dir", flags.models_dir, "folder of models jobs may name (default $SWAPLINE_MODELS_DIR)");
  cmd->add_option("--models-manifest", flags.models_manifest, "a JSON manifest adding models you bring (README: Models)")
      ->envname("SWAPLINE_MODELS_MANIFEST");
  cmd->add_option("--accept-license", flags.accepted_licenses,
                  "jobs may use this model although its license does not allow commercial use; repeatable");
  AddS3Flags(cmd, flags.s3, "s3-");
  cmd->add_option("--execution-thread-count", flags.execution_thread_count,
                  "video frame workers per job (default: one per core)");
  cmd->add_option("--limits", flags.limits_file, "operator limits on jobs: a TOML or JSON file (README: Security)");
  cmd->add_option("--limit", flags.limits, "one limit, NAME=VALUE (over --limits), e.g. max_video_seconds=120");
}

Status ApplyWorkerFlags(const WorkerFlags& flags, service::WorkerOptions& options) {
  auto manifest = models::ModelManifest::EmbeddedWith(flags.models_manifest);
  if (!manifest.ok()) return manifest.status().WithContext("--models-manifest");
  options.manifest = std::move(manifest).value();
  options.accepted_licenses = {flags.accepted_licenses.begin(), flags.accepted_licenses.end()};
  options.scratch_dir = flags.scratch_dir;
  options.models_dir = flags.models_dir.empty() ? EnvOr("SWAPLINE_MODELS_DIR", "") : flags.models_dir;
  options.execution_thread_count = flags.execution_thread_count;
  return Status::Ok();
}

}  // namespace swapline::cli
