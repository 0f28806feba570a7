#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "kaas/common/status.h"

namespace kaas::cli {

struct FlagSpec {
  std::string name;        // "team" for --team
  std::string value_name;  // "T" when the flag takes a value; empty for a boolean switch
  std::string help;
  char short_name = 0;  // 'o' for -o, 0 for none
};

struct ParsedArgs {
  std::vector<std::string> positional;
  std::map<std::string, std::string> flags;  // by long name; switches map to "true"
  // Every value of each flag that takes one, in order, for flags that may repeat
  // (--label a=b --label c=d); `flags` keeps the last.
  std::map<std::string, std::vector<std::string>> values;

  bool Has(const std::string& name) const { return flags.count(name) > 0; }
  std::string Get(const std::string& name, const std::string& fallback = "") const {
    auto it = flags.find(name);
    return it == flags.end() ? fallback : it->second;
  }
  std::vector<std::string> GetAll(const std::string& name) const {
    auto it = values.find(name);
    return it == values.end() ? std::vector<std::string>{} : it->second;
  }
};

// Parses `args` against `specs`: "--name value", "--name=value", "-o value", switches as
// "--name"; "--" ends the flags. An unknown flag or a missing value is kInvalidArgument.
Result<ParsedArgs> ParseArgs(const std::vector<std::string>& args,
                             const std::vector<FlagSpec>& specs);

// Parses a whole decimal integer ("3"); nullopt for anything else ("3x", "", "1e3").
std::optional<int64_t> ParseInt(const std::string& s);

}  // namespace kaas::cli
