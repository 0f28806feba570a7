#pragma once

#include <cstdint>
#include <string>

namespace kaas {

// Time source seam: tests inject a fixed or stepping clock.
class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch.
  virtual int64_t NowMs() const = 0;
};

class SystemClock : public Clock {
 public:
  int64_t NowMs() const override;
  static const SystemClock& Instance();
};

// RFC 3339 UTC with milliseconds ("2026-11-27T10:53:57.123Z"); "" for 0 (unset).
std::string FormatTime(int64_t ms);

}  // namespace kaas
