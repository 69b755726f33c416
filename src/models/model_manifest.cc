#include "models/model_manifest.h"

#include <algorithm>
#include <fstream>
#include <set>
#include <stdexcept>
#include <sstream>

#include <nlohmann/json.hpp>

namespace swapline::models {

extern const char kEmbeddedManifestJson[];  // models_json.cc, generated from models.json

namespace {

using nlohmann::json;

constexpr std::pair<ModelKind, const char*> kKindNames[] = {
    {ModelKind::kDetector, "detector"}, {ModelKind::kLandmarker, "landmarker"},
    {ModelKind::kRecognizer, "recognizer"}, {ModelKind::kSwapper, "swapper"},
    {ModelKind::kEnhancer, "enhancer"}, {ModelKind::kMasker, "masker"}};

bool IsName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.')) return false;
  }
  return true;
}

bool IsRelativeFile(const std::string& file) {
  if (file.empty() || file.size() > 255 || file.front() == '/' || file.back() == '/') return false;
  std::istringstream parts(file);
  for (std::string part; std::getline(parts, part, '/');) {
    if (part.empty() || part == "." || part == ".." || part.front() == '.') return false;
  }
  return file.find('\0') == std::string::npos;
}

bool IsSha256Hex(const std::string& text) {
  if (text.size() != 64) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool IsSource(const std::string& uri) {
  return uri.rfind("https://", 0) == 0 || uri.rfind("s3://", 0) == 0 || uri.rfind("file:///", 0) == 0;
}

Result<ModelEntry> ParseEntry(const json& item, const std::string& where) {
  if (!item.is_object()) return InvalidArgument(where + ": must be an object");
  auto text = [&](const char* field, bool required) -> Result<std::string> {
    if (!item.contains(field)) {
      if (required) return InvalidArgument(where + "." + field + ": missing");
      return std::string();
    }
    if (!item[field].is_string()) return InvalidArgument(where + "." + field + ": must be a string");
    return item[field].get<std::string>();
  };
  for (const auto& [field, value] : item.items()) {
    static const std::set<std::string> kFields = {"name",    "kind",          "file",    "size",   "sha256",
                                                  "license", "commercial_use", "sources", "options", "description",
                                                  "architecture", "input_size"};
    if (kFields.count(field) == 0) return InvalidArgument(where + "." + field + ": unknown field");
  }
  ModelEntry entry;
  SWAPLINE_ASSIGN_OR_RETURN(entry.name, text("name", true));
  if (!IsName(entry.name)) return InvalidArgument(where + ".name: '" + entry.name + "' is not [a-z0-9_.-]{1,64}");
  const std::string at = where + " (" + entry.name + ")";
  SWAPLINE_ASSIGN_OR_RETURN(const std::string kind, text("kind", true));
  bool known_kind = false;
  for (const auto& [value, name] : kKindNames) {
    if (kind == name) {
      entry.kind = value;
      known_kind = true;
    }
  }
  if (!known_kind) return InvalidArgument(at + ".kind: '" + kind + "' is not a model kind");
  SWAPLINE_ASSIGN_OR_RETURN(entry.file, text("file", true));
  if (!IsRelativeFile(entry.file)) return InvalidArgument(at + ".file: must be a relative path without '..' or dot files");
  if (!item.contains("size") || !item["size"].is_number_unsigned() || item["size"].get<std::uint64_t>() == 0) {
    return InvalidArgument(at + ".size: must be a positive integer (bytes)");
  }
  entry.size = item["size"].get<std::uint64_t>();
  SWAPLINE_ASSIGN_OR_RETURN(entry.sha256, text("sha256", true));
  if (!IsSha256Hex(entry.sha256)) return InvalidArgument(at + ".sha256: must be 64 lowercase hex digits");
  SWAPLINE_ASSIGN_OR_RETURN(entry.license, text("license", true));
  if (!item.contains("commercial_use") || !item["commercial_use"].is_boolean()) {
    return InvalidArgument(at + ".commercial_use: must be true or false");
  }
  entry.commercial_use = item["commercial_use"].get<bool>();
  for (const char* list : {"sources", "options"}) {
    if (!item.contains(list)) continue;
    if (!item[list].is_array()) return InvalidArgument(at + "." + list + ": must be an array of strings");
    for (const json& value : item[list]) {
      if (!value.is_string()) return InvalidArgument(at + "." + list + ": must be an array of strings");
      (std::string(list) == "sources" ? entry.sources : entry.options).push_back(value.get<std::string>());
    }
  }
  for (const std::string& source : entry.sources) {
    if (!IsSource(source)) return InvalidArgument(at + ".sources: '" + source + "' is not an https, s3 or file:/// URI");
  }
  SWAPLINE_ASSIGN_OR_RETURN(entry.description, text("description", false));
  SWAPLINE_ASSIGN_OR_RETURN(entry.architecture, text("architecture", false));
  if (item.contains("input_size")) {
    if (!item["input_size"].is_number_unsigned() ||
        item["input_size"].get<std::uint64_t>() == 0 || item["input_size"].get<std::uint64_t>() > 4096) {
      return InvalidArgument(at + ".input_size: must be the side of the model's square input, 1..4096 pixels");
    }
    entry.input_size = item["input_size"].get<int>();
  }
  return entry;
}

}  // namespace

const char* ModelKindName(ModelKind kind) {
  for (const auto& [value, name] : kKindNames) {
    if (value == kind) return name;
  }
  return "?";
}

Result<ModelManifest> ModelManifest::Parse(std::string_view text, std::string_view origin) {
  const json document = json::parse(text, nullptr, /*allow_exceptions=*/false);
  const std::string where(origin);
  if (document.is_discarded()) return InvalidArgument(where + ": not valid JSON");
  if (!document.is_object() || !document.contains("models") || !document["models"].is_array()) {
    return InvalidArgument(where + ": must be a JSON object with a \"models\" array");
  }
  ModelManifest manifest;
  for (std::size_t i = 0; i < document["models"].size(); ++i) {
    SWAPLINE_ASSIGN_OR_RETURN(ModelEntry entry,
                              ParseEntry(document["models"][i], where + ": models[" + std::to_string(i) + "]"));
    if (manifest.Find(entry.name) != nullptr) {
      return InvalidArgument(where + ": model '" + entry.name + "' is listed twice");
    }
    manifest.entries_.push_back(std::move(entry));
  }
  return manifest;
}

const ModelManifest& ModelManifest::Embedded() {
  static const ModelManifest manifest = [] {
    auto parsed = Parse(kEmbeddedManifestJson, "embedded models.json");
    // The build checks the same file (models_manifest test): a failure here is a bug.
    if (!parsed.ok()) throw std::logic_error(parsed.status().ToString());
    return std::move(parsed).value();
  }();
  return manifest;
}

Result<ModelManifest> ModelManifest::EmbeddedWith(const std::filesystem::path& path) {
  if (path.empty()) return Embedded();
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot read the models manifest " + path.string());
  std::ostringstream text;
  text << in.rdbuf();
  SWAPLINE_ASSIGN_OR_RETURN(ModelManifest extra, Parse(text.str(), path.filename().string()));
  ModelManifest merged = Embedded();
  for (ModelEntry& entry : extra.entries_) {
    auto same = std::find_if(merged.entries_.begin(), merged.entries_.end(),
                             [&](const ModelEntry& e) { return e.name == entry.name; });
    if (same != merged.entries_.end()) {
      *same = std::move(entry);
    } else {
      merged.entries_.push_back(std::move(entry));
    }
  }
  return merged;
}

const ModelEntry* ModelManifest::Find(std::string_view name) const {
  for (const ModelEntry& entry : entries_) {
    if (entry.name == name) return &entry;
  }
  return nullptr;
}

}  // namespace swapline::models
