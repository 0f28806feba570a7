#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "kaas/common/status.h"

namespace kaas {

// Bounds on the strings kaas accepts from outside (DESIGN.md §6.1). Anything longer is refused
// with kInvalidArgument before it reaches a service, the database or the audit log.
inline constexpr size_t kMaxUsernameBytes = 64;
inline constexpr size_t kMaxNameBytes = 63;    // object names and ids (DNS label length)
inline constexpr size_t kMaxTextBytes = 1000;  // reasons, comments, URIs, query values
inline constexpr size_t kMaxPasswordBytes = 1024;

// Well-formed UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF).
bool IsValidUtf8(std::string_view s);

// OK when `value` is valid UTF-8 of at most max_bytes bytes without control characters
// (below U+0020, or DEL; `multiline` allows newline and tab); otherwise kInvalidArgument naming
// `field`.
Status CheckText(const std::string& field, std::string_view value, size_t max_bytes,
                 bool multiline = false);

// A copy safe to store or log: invalid UTF-8 sequences and control characters become U+FFFD,
// and the result is cut (at a character boundary) to at most max_bytes bytes.
std::string Sanitized(std::string_view s, size_t max_bytes);

}  // namespace kaas
