#include "kaas/lifecycle/job_lease.h"

#include "kaas/common/log.h"
#include "kaas/store/repositories.h"

namespace kaas::lifecycle {

bool JobLease::Hold() {
  bool held = false;
  const int64_t now = clock_.NowMs();
  Status st = db_.Write([&](store::Tx& tx) {
    held = store::leases::AcquireNamed(tx, name_, replica_, now, now + expiry_ms_);
    return Status::Ok();
  });
  if (!st.ok()) {
    log::Warn("cannot take the job's lease", {{"job", name_}, {"error", st.ToString()}});
    return false;
  }
  return held;
}

void JobLease::Release() {
  Status st = db_.Write([&](store::Tx& tx) {
    store::leases::ReleaseNamed(tx, name_, replica_);
    return Status::Ok();
  });
  if (!st.ok()) log::Warn("cannot release the job's lease", {{"job", name_}});
}

}  // namespace kaas::lifecycle
