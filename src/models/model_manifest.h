// The model manifest: every model swapline can use, by name. An entry says what the
// model is (kind), which file it is (path inside the models folder, size, sha256),
// under which license (and whether that allows commercial use), where it can be
// fetched from (https, s3 or file URIs) and which options use it.
//
// The manifest is compiled into the binary (src/models/models.json); an operator may
// add entries or replace them by name with a manifest file of their own
// (`--manifest FILE` / SWAPLINE_MODELS_MANIFEST). Jobs and options name models, never
// paths: names are resolved in the models folder (models/model_dir.h).
//
// Thread safety: a ModelManifest is immutable after parsing.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace swapline::models {

enum class ModelKind { kDetector, kLandmarker, kRecognizer, kSwapper, kEnhancer, kMasker };
const char* ModelKindName(ModelKind kind);

struct ModelEntry {
  std::string name;            // [a-z0-9_.-]+
  ModelKind kind = ModelKind::kDetector;
  std::string file;            // relative path in the models folder, no "..", no leading '/'
  std::uint64_t size = 0;
  std::string sha256;          // 64 lowercase hex digits
  std::string license;
  bool commercial_use = false;
  std::vector<std::string> sources;  // https://, s3:// or file:// URIs of the file itself
  std::vector<std::string> options;  // the options that use it, for people
  std::string description;
  // The network family ("yunet", "blazeface"): how its input is made and its output
  // read. And the side of its square input in pixels (0: any size).
  std::string architecture;
  int input_size = 0;
};

class ModelManifest {
 public:
  // The manifest compiled into the binary.
  static const ModelManifest& Embedded();
  // A manifest in JSON ({"models": [entry…]}); errors name `origin` and the entry.
  static Result<ModelManifest> Parse(std::string_view json, std::string_view origin);
  // The embedded manifest with the entries of `path` added, replacing same names;
  // an empty path gives the embedded manifest alone.
  static Result<ModelManifest> EmbeddedWith(const std::filesystem::path& path);

  // nullptr when unknown.
  const ModelEntry* Find(std::string_view name) const;
  const std::vector<ModelEntry>& entries() const { return entries_; }

 private:
  std::vector<ModelEntry> entries_;  // in manifest order, names unique
};

}  // namespace swapline::models
