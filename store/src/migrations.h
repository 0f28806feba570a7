#pragma once

#include <vector>

namespace kaas::store {

struct Migration {
  int version;
  const char* name;
  std::vector<const char*> statements;
};

// Numbered, append-only: a released migration is never edited, a change is a new one.
const std::vector<Migration>& Migrations();

}  // namespace kaas::store
