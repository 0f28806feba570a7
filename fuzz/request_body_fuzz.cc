// Request bodies: ParseObject and the typed getters every route uses. Nothing may throw or
// crash; an object that passes has only the allowed keys; a string a getter returns is valid
// UTF-8 within its bound.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "http.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  auto obj = kaas::api::ParseObject(body, {"name", "team", "labels", "masters", "reason"});
  if (!obj.ok()) return 0;
  for (const auto& [key, value] : obj->items()) {
    if (key != "name" && key != "team" && key != "labels" && key != "masters" && key != "reason") {
      std::abort();
    }
  }
  if (auto s = kaas::api::GetString(*obj, "name", false); s.ok()) {
    if (!kaas::IsValidUtf8(*s) || s->size() > kaas::kMaxTextBytes) std::abort();
  }
  if (auto s = kaas::api::GetString(*obj, "team", true, kaas::kMaxNameBytes, "x."); s.ok()) {
    if (s->size() > kaas::kMaxNameBytes) std::abort();
  }
  (void)kaas::api::GetText(*obj, "reason", false);
  (void)kaas::api::GetInt(*obj, "masters", false, 1);
  // What an error answer would say about it.
  (void)kaas::api::ErrorBody(kaas::api::GetInt(*obj, "labels", true, 0).status()).dump();
  return 0;
}
