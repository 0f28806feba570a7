// Every string from outside passes CheckText or is stored through Sanitized (the audit log,
// error messages naming a field). Sanitized must give valid UTF-8 within the bound that
// CheckText then accepts, and be a fixed point; CheckText must accept nothing that is not
// valid UTF-8 within the bound.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "kaas/common/text.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // The first byte picks the bound, the rest is the text.
  const size_t max_bytes = data[0] % 80;
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  const bool valid = kaas::IsValidUtf8(text);
  for (bool multiline : {false, true}) {
    if (kaas::CheckText("f", text, max_bytes, multiline).ok() &&
        (!valid || text.size() > max_bytes)) {
      std::abort();
    }
  }
  const std::string safe = kaas::Sanitized(text, max_bytes);
  if (safe.size() > max_bytes || !kaas::IsValidUtf8(safe)) std::abort();
  if (!kaas::CheckText("f", safe, max_bytes).ok()) std::abort();
  if (kaas::Sanitized(safe, max_bytes) != safe) std::abort();
  return 0;
}
