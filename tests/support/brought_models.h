// Manifests for models users bring (README "Models you bring"), listing the synthetic
// networks with the real layouts that support/synthetic_models.py writes at build time.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/cli_test_util.h"
#include "storage/hashing.h"

namespace swapline::testing {

struct BroughtModel {
  std::string name;          // the manifest name an option resolves
  std::string kind;          // detector, landmarker, recognizer, swapper
  std::string file;          // in SWAPLINE_SYNTHETIC_MODELS_DIR
  std::string architecture;  // how swapline reads it
};

// A manifest of `models`, each at `<name>/<file>` in a models folder, non-commercial,
// pulled from its synthetic file.
inline nlohmann::json BroughtManifest(const std::vector<BroughtModel>& models) {
  nlohmann::json entries = nlohmann::json::array();
  for (const BroughtModel& m : models) {
    const std::filesystem::path network = std::filesystem::path(SWAPLINE_SYNTHETIC_MODELS_DIR) / m.file;
    const std::string bytes = ReadFileBytes(network);
    entries.push_back(
        {{"name", m.name}, {"kind", m.kind}, {"file", m.name + "/" + m.file}, {"architecture", m.architecture},
         {"size", bytes.size()},
         {"sha256", storage::Sha256Hex({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()})},
         {"license", "non-commercial"}, {"commercial_use", false}, {"sources", {"file://" + network.string()}},
         {"options", nlohmann::json::array()}, {"description", "a synthetic stand-in"}});
  }
  return {{"models", entries}};
}

// Writes `manifest` to `path` and pulls every model it lists into `models_dir`,
// accepting their licences; the pull's exit code.
inline int PullBrought(const std::string& binary, const std::filesystem::path& path, const nlohmann::json& manifest,
                       const std::filesystem::path& models_dir, const std::filesystem::path& logs) {
  WriteFileBytes(path, manifest.dump());
  std::vector<std::string> args = {"models", "pull"};
  for (const auto& entry : manifest["models"]) args.push_back(entry["name"]);
  args.insert(args.end(), {"--models-dir", models_dir.string(), "--manifest", path.string()});
  for (const auto& entry : manifest["models"]) args.insert(args.end(), {"--accept-license", entry["name"]});
  return RunProcess(binary, args, logs, 120).exit_code;
}

}  // namespace swapline::testing
