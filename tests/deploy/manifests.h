// The rendered overlays as the deployment tests read them (the JSON that
// to_json.mjs writes from `kubectl kustomize` output), and what the kubelet does
// to a container's args before it starts it: $(VAR) expansion from the
// container's environment.
#pragma once

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace swapline::deploy::testing {

using nlohmann::json;

struct Overlay {
  std::string file;
  std::vector<json> objects;

  const json* Find(const std::string& kind, const std::string& name) const {
    for (const json& o : objects) {
      if (o.value("kind", "") == kind && o["metadata"].value("name", "") == name) return &o;
    }
    return nullptr;
  }
  const json* FindKind(const std::string& kind) const {
    for (const json& o : objects) {
      if (o.value("kind", "") == kind) return &o;
    }
    return nullptr;
  }
};

// The documents of `json_path`, grouped by the rendered file they came from.
inline Result<std::map<std::string, Overlay>> LoadOverlays(const std::string& json_path) {
  std::ifstream in(json_path);
  if (!in) return NotFound("cannot read " + json_path + " (the deploy_render test writes it)");
  std::map<std::string, Overlay> overlays;
  for (const json& doc : json::parse(in)) {
    const std::string file = doc["file"];
    overlays[file].file = file;
    overlays[file].objects.push_back(doc["object"]);
  }
  return overlays;
}

// The value of `--name=VALUE` among a container's args.
inline std::optional<std::string> Flag(const json& container, const std::string& name) {
  for (const json& arg : container.value("args", json::array())) {
    const std::string text = arg;
    if (text.starts_with(name + "=")) return text.substr(name.size() + 1);
  }
  return std::nullopt;
}

// Expands $(VAR) as the kubelet does, from `values`. A name `values` lacks is an
// error here (the kubelet would pass "$(NAME)" on literally: never what is meant).
inline Result<std::string> ExpandVars(const std::string& text, const std::map<std::string, std::string>& values) {
  std::string out;
  std::size_t at = 0;
  while (true) {
    const std::size_t open = text.find("$(", at);
    if (open == std::string::npos) return out + text.substr(at);
    const std::size_t close = text.find(')', open);
    if (close == std::string::npos) return InvalidArgument("'" + text + "': unterminated $(");
    const std::string name = text.substr(open + 2, close - open - 2);
    const auto value = values.find(name);
    if (value == values.end()) return InvalidArgument("'" + text + "' uses $(" + name + "), which is not set");
    out += text.substr(at, open - at) + value->second;
    at = close + 1;
  }
}

}  // namespace swapline::deploy::testing
