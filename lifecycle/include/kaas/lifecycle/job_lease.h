#pragma once

#include <cstdint>
#include <string>

#include "kaas/common/clock.h"
#include "kaas/store/database.h"

namespace kaas::lifecycle {

// A background job that runs once across the replicas sharing a database (DESIGN.md §6.2):
// the orphan reconciler and the health monitor ask Hold() before each pass, which takes or
// renews the job's named lease (store::leases) until now + expiry_ms; only the holder runs the
// pass. A holder that dies or stops renewing loses it after expiry_ms. Give an expiry longer
// than the job's interval, or two replicas take turns.
class JobLease {
 public:
  JobLease(store::Database& db, const Clock& clock, std::string name, std::string replica,
           int64_t expiry_ms)
      : db_(db),
        clock_(clock),
        name_(std::move(name)),
        replica_(std::move(replica)),
        expiry_ms_(expiry_ms) {}

  // True when this replica holds the lease now; false when another one does or the database
  // did not answer (the pass is skipped either way).
  bool Hold();
  // Gives the lease up (kaasd stops), so that another replica runs the job without waiting.
  void Release();

 private:
  store::Database& db_;
  const Clock& clock_;
  const std::string name_;
  const std::string replica_;
  const int64_t expiry_ms_;
};

}  // namespace kaas::lifecycle
