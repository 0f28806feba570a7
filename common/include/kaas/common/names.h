#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "kaas/common/status.h"

namespace kaas {

// The longest DNS label RFC 1123 allows; objects with a shorter contract pass their own limit
// (cluster and team names: 40, DESIGN.md §3).
inline constexpr size_t kDnsLabelMaxLength = 63;

// A DNS label: 1..max_length lowercase letters, digits and '-', not starting or ending with '-'.
bool IsDnsLabel(std::string_view s, size_t max_length = kDnsLabelMaxLength);

// OK for a DNS label of at most max_length characters; otherwise kInvalidArgument naming
// `field`, with a message that states the rule.
Status CheckDnsLabel(const std::string& field, std::string_view value,
                     size_t max_length = kDnsLabelMaxLength);

}  // namespace kaas
