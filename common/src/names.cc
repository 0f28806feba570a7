#include "kaas/common/names.h"

#include <algorithm>

namespace kaas {

bool IsDnsLabel(std::string_view s, size_t max_length) {
  if (s.empty() || s.size() > max_length || s.front() == '-' || s.back() == '-') return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

Status CheckDnsLabel(const std::string& field, std::string_view value, size_t max_length) {
  if (IsDnsLabel(value, max_length)) return Status::Ok();
  return InvalidArgument(field, field +
                                    " must be a DNS label: lowercase letters, digits and '-', "
                                    "1-" +
                                    std::to_string(max_length) +
                                    " characters, not starting or ending with '-'");
}

}  // namespace kaas
