// Label selectors come from every caller (?selector= on the list routes, deploy tokens, the
// CLI). A selector that parses must print as text that parses back to the same selector, and
// matching it against labels made of its own values must not fail.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "kaas/common/labels.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = kaas::ParseLabelSelector(text);
  if (!parsed.ok()) {
    if (parsed.status().message().empty()) std::abort();  // every refusal says why
    return 0;
  }
  const std::string canonical = parsed->ToString();
  auto again = kaas::ParseLabelSelector(canonical);
  if (!again.ok() || again->requirements != parsed->requirements) std::abort();
  if (again->ToString() != canonical) std::abort();
  kaas::Labels labels;
  for (const auto& r : parsed->requirements) {
    labels[r.key] = r.values.empty() ? "" : r.values.front();
  }
  if (!kaas::CheckLabels("labels", labels).ok() && labels.size() <= kaas::kMaxLabelsPerObject) {
    std::abort();  // keys and values a selector accepts are valid labels
  }
  (void)parsed->Matches(labels);
  return 0;
}
