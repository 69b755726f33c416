// ModelDir: the local folder that holds model files, laid out as the manifest's
// `file` paths (e.g. <dir>/yunet/yunet_n_320_320.onnx).
//
// Contract:
//  * A model file becomes visible under its path only whole and verified: Pull
//    writes <dir>/.partial/<name>.part, resumes it from its size on the next Pull,
//    checks size and sha256, then renames it into place.
//  * A model whose license does not allow commercial use is neither pulled nor
//    resolved unless its name is in `accepted_licenses` (FailedPrecondition naming
//    the license and the flag that accepts it).
//  * Errors: FailedPrecondition for a model that is unknown, not installed, not
//    accepted or corrupt on disk (its fix is a command: pull, rm); UnsupportedInput
//    when every source gave bytes that fail the checksum; Unavailable / NotFound /
//    PermissionDenied from the sources (the last source's error, with each tried
//    source named); IOError for the local folder.
//
// Thread safety: Resolve may be called from many threads; Pull and Remove of the
// same model must not run concurrently (one CLI process does one at a time).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/status.h"
#include "models/model_manifest.h"
#include "storage/s3_settings.h"

namespace swapline::models {

// SWAPLINE_MODELS_DIR, else $XDG_CACHE_HOME/swapline/models, else
// ~/.cache/swapline/models (containers set SWAPLINE_MODELS_DIR=/var/lib/swapline/models).
std::filesystem::path DefaultModelsDir();
// `configured` (a --models-dir flag) unless empty, else DefaultModelsDir().
std::filesystem::path ModelsDirOr(const std::string& configured);

enum class ModelState { kMissing, kPartial, kInstalled, kCorrupt };
const char* ModelStateName(ModelState state);

struct ModelStatus {
  ModelState state = ModelState::kMissing;
  std::uint64_t bytes = 0;  // on disk: the file, or the partial download
  std::string problem;      // kCorrupt: what does not match
};

struct PullOptions {
  // Tried first, in order: base URIs of mirrors holding files at the manifest's
  // `file` paths ("file:///srv/models", "s3://bucket/models"); then the entry's own sources.
  std::vector<std::string> mirrors;
  std::set<std::string> accepted_licenses;  // names of non-commercial models the user accepts
  storage::S3Settings s3;                   // for s3:// sources
  // (bytes done, bytes total) as the file grows, from the pulling thread.
  std::function<void(std::uint64_t, std::uint64_t)> progress;
};

class ModelDir {
 public:
  ModelDir(std::filesystem::path root, const ModelManifest& manifest);

  const std::filesystem::path& root() const { return root_; }
  const ModelManifest& manifest() const { return manifest_; }

  // Size only for an installed file; `verify_checksum` also hashes it.
  ModelStatus Inspect(const ModelEntry& entry, bool verify_checksum) const;

  // Fetches `name` unless it is installed and verified. Returns the file's path.
  Result<std::filesystem::path> Pull(const std::string& name, const PullOptions& options);

  // The verified path of an installed, accepted model (hashed once per process).
  Result<std::filesystem::path> Resolve(const std::string& name, const std::set<std::string>& accepted_licenses);

  // Deletes the file and any partial download; no error when neither exists.
  Status Remove(const std::string& name);

 private:
  Result<const ModelEntry*> Lookup(const std::string& name) const;
  std::filesystem::path PartialPath(const ModelEntry& entry) const;
  // Appends the source's bytes from the partial file's size; verifies; renames.
  Status FetchFrom(const ModelEntry& entry, const std::string& uri, const PullOptions& options);

  const std::filesystem::path root_;
  const ModelManifest& manifest_;
  std::mutex verified_mutex_;
  std::set<std::string> verified_;  // names hashed and found intact; guarded by verified_mutex_
};

}  // namespace swapline::models
