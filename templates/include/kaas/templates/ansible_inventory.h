#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "kaas/common/status.h"

namespace kaas::templates {

// A variable of an Ansible inventory. Text is written with Ansible's `!unsafe` tag, so Ansible
// takes it literally: a value such as "{{ lookup('pipe', 'id') }}" (a host address, a cluster
// name, anything that came from a user) is never evaluated as Jinja. Numbers and booleans stay
// typed (`when: kubernetes_install | bool` needs a boolean, not the text "false").
using InventoryValue = std::variant<std::string, int64_t, bool>;
using InventoryVars = std::vector<std::pair<std::string, InventoryValue>>;  // written in order

struct InventoryHost {
  std::string name;
  InventoryVars vars;
};

struct InventoryGroup {
  std::string name;
  std::vector<InventoryHost> hosts;
};

// all.vars and all.children of a YAML inventory.
struct Inventory {
  InventoryVars vars;
  std::vector<InventoryGroup> groups;
};

// The inventory as YAML for Ansible's yaml inventory plugin. kInvalidArgument (field
// "inventory") for a variable name that is not an identifier, or a host or group name that is
// not made of letters, digits, '.', '_' and '-' (names are kaas's own, never a user's text).
Result<std::string> RenderInventory(const Inventory& inventory);

}  // namespace kaas::templates
