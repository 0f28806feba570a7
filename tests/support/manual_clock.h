#pragma once

// Test support (header only): a clock the test moves by hand, for the services that read time
// through kaas::Clock (expiry, throttling windows, backoff).

#include <atomic>
#include <cstdint>

#include "kaas/common/clock.h"

namespace kaas::testing {

class ManualClock : public Clock {
 public:
  int64_t NowMs() const override { return ms_.load(); }
  void Advance(int64_t ms) { ms_ += ms; }

 private:
  std::atomic<int64_t> ms_{1'700'000'000'000};
};

}  // namespace kaas::testing
