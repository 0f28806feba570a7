#pragma once

// Assertions on kaas::Status and kaas::Result<T> for tests: a status a test receives is always
// checked, and a failure prints the status (code and message), not just "false".

#include <gtest/gtest.h>

#include "kaas/common/status.h"

namespace kaas::testing {

inline const Status& StatusOf(const Status& s) { return s; }
template <typename T>
const Status& StatusOf(const Result<T>& r) {
  return r.status();
}

}  // namespace kaas::testing

#define KAAS_STATUS_OK_IMPL(fail, ...)                                            \
  do {                                                                            \
    const auto& kaas_status_ = (__VA_ARGS__);                                     \
    if (!::kaas::testing::StatusOf(kaas_status_).ok())                            \
      fail() << "not OK: " << ::kaas::testing::StatusOf(kaas_status_).ToString(); \
  } while (0)
// ASSERT_OK(db.Write(...)): the test stops here unless the status is OK.
#define ASSERT_OK(...) KAAS_STATUS_OK_IMPL(FAIL, __VA_ARGS__)
// EXPECT_OK(expr): records a failure and goes on.
#define EXPECT_OK(...) KAAS_STATUS_OK_IMPL(ADD_FAILURE, __VA_ARGS__)
