#pragma once

// Helpers shared by the step handlers (steps*.cc); not part of lifecycle's interface.

#include <algorithm>
#include <future>
#include <string>
#include <vector>

#include "kaas/common/status.h"
#include "kaas/common/strings.h"
#include "kaas/store/records.h"

namespace kaas::lifecycle::internal {

// "a, b, c"
inline std::string Join(const std::vector<std::string>& items) { return kaas::Join(items, ", "); }
// A step's target "a,b,c" -> {a, b, c} (empty items dropped).
inline std::vector<std::string> SplitNames(const std::string& list) { return Split(list, ','); }
// A string parameter of the operation (its JSON params); "" when absent.
std::string ParamOf(const store::Operation& op, const std::string& key);

// Runs fn over items concurrently (one thread per item, at most `width` at a time) and
// returns the first error. An exception thrown by fn reaches the caller (after the batch).
template <typename T, typename Fn>
Status ForEachParallel(const std::vector<T>& items, size_t width, Fn fn) {
  Status first;
  for (size_t start = 0; start < items.size(); start += width) {
    std::vector<std::future<Status>> batch;
    for (size_t i = start; i < std::min(items.size(), start + width); ++i) {
      batch.push_back(std::async(std::launch::async, [&, i] { return fn(items[i]); }));
    }
    for (auto& f : batch) {
      Status st = f.get();
      if (!st.ok() && first.ok()) first = st;
    }
  }
  return first;
}

}  // namespace kaas::lifecycle::internal
