#include "storage/lifecycle.h"

#include <nlohmann/json.hpp>
#include <pugixml.hpp>

#include <sstream>

namespace swapline::storage {
namespace {

void AppendJson(pugi::xml_node parent, const std::string& name, const nlohmann::ordered_json& value) {
  if (value.is_array()) {
    const std::string item = name.ends_with('s') ? name.substr(0, name.size() - 1) : name;
    for (const auto& element : value) AppendJson(parent, item, element);
    return;
  }
  pugi::xml_node node = parent.append_child(name.c_str());
  if (value.is_object()) {
    for (const auto& [child_name, child] : value.items()) AppendJson(node, child_name, child);
  } else if (value.is_string()) {
    node.text().set(value.get<std::string>().c_str());
  } else {
    node.text().set(value.dump().c_str());  // numbers and true/false as written
  }
}

}  // namespace

Result<std::string> LifecycleJsonToXml(std::string_view json) {
  const nlohmann::ordered_json config = nlohmann::ordered_json::parse(json, nullptr, false);
  if (config.is_discarded()) return InvalidArgument("the lifecycle configuration is not valid JSON");
  if (!config.is_object() || !config.contains("Rules") || !config["Rules"].is_array() ||
      config["Rules"].empty()) {
    return InvalidArgument("the lifecycle configuration needs a non-empty \"Rules\" array");
  }
  pugi::xml_document doc;
  pugi::xml_node root = doc.append_child("LifecycleConfiguration");
  root.append_attribute("xmlns") = "http://s3.amazonaws.com/doc/2006-03-01/";
  for (const auto& [name, value] : config.items()) AppendJson(root, name, value);
  std::ostringstream out;
  doc.save(out, "", pugi::format_raw | pugi::format_no_declaration);
  return out.str();
}

}  // namespace swapline::storage
