#include "kaas/common/text.h"

namespace kaas {
namespace {

// Length of the well-formed UTF-8 sequence at s[i], or 0 when it is not one.
size_t SequenceLength(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  auto cont = [&](size_t k) { return i + k < s.size() && (b(k) & 0xC0) == 0x80; };
  unsigned char c = b(0);
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xE0 && b(1) < 0xA0) return 0;   // overlong
    if (c == 0xED && b(1) >= 0xA0) return 0;  // UTF-16 surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xF0 && b(1) < 0x90) return 0;   // overlong
    if (c == 0xF4 && b(1) >= 0x90) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

bool IsControl(unsigned char c) { return c < 0x20 || c == 0x7F; }

}  // namespace

bool IsValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    size_t n = SequenceLength(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

Status CheckText(const std::string& field, std::string_view value, size_t max_bytes,
                 bool multiline) {
  if (value.size() > max_bytes) {
    return InvalidArgument(field,
                           field + " is longer than " + std::to_string(max_bytes) + " bytes");
  }
  if (!IsValidUtf8(value)) return InvalidArgument(field, field + " is not valid UTF-8");
  for (char c : value) {
    if (multiline && (c == '\n' || c == '\t')) continue;
    if (IsControl(static_cast<unsigned char>(c))) {
      return InvalidArgument(field, field + " contains a control character");
    }
  }
  return Status::Ok();
}

std::string Sanitized(std::string_view s, size_t max_bytes) {
  static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
  std::string out;
  for (size_t i = 0; i < s.size();) {
    size_t n = SequenceLength(s, i);
    std::string_view piece = kReplacement;
    if (n == 1 && !IsControl(static_cast<unsigned char>(s[i]))) piece = s.substr(i, 1);
    if (n > 1) piece = s.substr(i, n);
    if (out.size() + piece.size() > max_bytes) break;
    out.append(piece);
    i += n == 0 ? 1 : n;
  }
  return out;
}

}  // namespace kaas
