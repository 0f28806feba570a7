#include "kaas/templates/ansible_inventory.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>

namespace kaas::templates {
namespace {

bool IsIdentifier(const std::string& s) {
  auto word = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  };
  return !s.empty() && !(s[0] >= '0' && s[0] <= '9') && std::all_of(s.begin(), s.end(), word);
}

bool IsName(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

Status EmitVars(YAML::Emitter& out, const InventoryVars& vars) {
  out << YAML::BeginMap;
  for (const auto& [key, value] : vars) {
    if (!IsIdentifier(key)) {
      return InvalidArgument("inventory", "variable name \"" + key + "\" is not an identifier");
    }
    out << YAML::Key << key << YAML::Value;
    if (const auto* text = std::get_if<std::string>(&value)) {
      out << YAML::LocalTag("unsafe") << YAML::DoubleQuoted << *text;
    } else if (const auto* number = std::get_if<int64_t>(&value)) {
      out << *number;
    } else {
      out << YAML::TrueFalseBool << std::get<bool>(value);
    }
  }
  out << YAML::EndMap;
  return Status::Ok();
}

}  // namespace

Result<std::string> RenderInventory(const Inventory& inventory) {
  YAML::Emitter out;
  out << YAML::BeginMap << YAML::Key << "all" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "vars" << YAML::Value;
  KAAS_RETURN_IF_ERROR(EmitVars(out, inventory.vars));
  out << YAML::Key << "children" << YAML::Value << YAML::BeginMap;
  for (const auto& group : inventory.groups) {
    if (!IsName(group.name)) {
      return InvalidArgument("inventory", "group name \"" + group.name + "\" is not a name");
    }
    out << YAML::Key << group.name << YAML::Value << YAML::BeginMap << YAML::Key << "hosts"
        << YAML::Value << YAML::BeginMap;
    for (const auto& host : group.hosts) {
      if (!IsName(host.name)) {
        return InvalidArgument("inventory", "host name \"" + host.name + "\" is not a name");
      }
      out << YAML::Key << host.name << YAML::Value;
      KAAS_RETURN_IF_ERROR(EmitVars(out, host.vars));
    }
    out << YAML::EndMap << YAML::EndMap;
  }
  out << YAML::EndMap << YAML::EndMap << YAML::EndMap;
  if (!out.good()) return Internal("inventory: " + out.GetLastError());
  return std::string(out.c_str()) + "\n";
}

}  // namespace kaas::templates
