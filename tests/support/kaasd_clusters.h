#pragma once

// Cluster helpers over the real kaasd's API, for the tests that drive a KaasdProcess (gtest).

#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "kaasd_process.h"

namespace kaas::testing {

// POST /api/v1/clusters: a dev cluster of team "payments" with `workers` VM workers.
// Returns {cluster id, operation id}; {} (and a test failure) unless kaasd answered 202.
inline std::pair<std::string, std::string> CreateDevCluster(KaasdProcess& kaasd,
                                                            const std::string& name, int workers) {
  auto r = kaasd.Call("POST", "/api/v1/clusters",
                      Json{{"name", name},
                           {"team", "payments"},
                           {"purpose", "dev"},
                           {"workers", {{"count", workers}}}}
                          .dump());
  EXPECT_EQ(r.status, 202) << r.raw;
  if (r.status != 202) return {};
  return {r.body["cluster"]["id"], r.body["operation"]["id"]};
}

}  // namespace kaas::testing
