#include "kaas/cli/args.h"

#include <charconv>

namespace kaas::cli {

Result<ParsedArgs> ParseArgs(const std::vector<std::string>& args,
                             const std::vector<FlagSpec>& specs) {
  ParsedArgs out;
  bool flags_done = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (flags_done || a.size() < 2 || a[0] != '-') {
      out.positional.push_back(a);
      continue;
    }
    if (a == "--") {
      flags_done = true;
      continue;
    }
    std::string name;
    std::optional<std::string> inline_value;
    const FlagSpec* spec = nullptr;
    if (a[1] == '-') {
      name = a.substr(2);
      if (size_t eq = name.find('='); eq != std::string::npos) {
        inline_value = name.substr(eq + 1);
        name.resize(eq);
      }
      for (const auto& s : specs) {
        if (s.name == name) spec = &s;
      }
    } else if (a.size() == 2) {
      for (const auto& s : specs) {
        if (s.short_name == a[1]) spec = &s;
      }
    }
    if (!spec) return InvalidArgument(a, "unknown flag " + a);
    if (spec->value_name.empty()) {
      if (inline_value) return InvalidArgument(a, "--" + spec->name + " takes no value");
      out.flags[spec->name] = "true";
      continue;
    }
    if (inline_value) {
      out.flags[spec->name] = *inline_value;
      out.values[spec->name].push_back(*inline_value);
      continue;
    }
    if (i + 1 >= args.size()) {
      return InvalidArgument(a, "--" + spec->name + " needs a value (" + spec->value_name + ")");
    }
    out.flags[spec->name] = args[++i];
    out.values[spec->name].push_back(args[i]);
  }
  return out;
}

std::optional<int64_t> ParseInt(const std::string& s) {
  int64_t v = 0;
  const char* end = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(s.data(), end, v);
  if (s.empty() || ec != std::errc() || ptr != end) return std::nullopt;
  return v;
}

}  // namespace kaas::cli
