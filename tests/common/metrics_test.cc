#include "kaas/common/metrics.h"

#include <gtest/gtest.h>

namespace kaas::metrics {
namespace {

TEST(MetricsTest, CounterRendersTypeAndLabels) {
  Registry r;
  auto& c = r.Counter("kaas_things_total", "Things.", {"kind", "code"});
  c.Inc({"a", "x"});
  c.Inc({"a", "x"}, 2);
  c.Inc({"b\"q", "y"});
  std::string text = r.Render();
  EXPECT_NE(text.find("# TYPE kaas_things_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("kaas_things_total{kind=\"a\",code=\"x\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("kaas_things_total{kind=\"b\\\"q\",code=\"y\"} 1\n"), std::string::npos);
  EXPECT_EQ(c.Value({"a", "x"}), 3);
}

TEST(MetricsTest, HistogramBucketsAreCumulativeWithSumAndCount) {
  Registry r;
  auto& h = r.Histogram("kaas_wait_seconds", "Waits.", {"route"}, {0.1, 1});
  h.Observe({"/x"}, 0.05);
  h.Observe({"/x"}, 0.1);  // on the bound: in the 0.1 bucket (le)
  h.Observe({"/x"}, 0.5);
  h.Observe({"/x"}, 7);
  std::string text = r.Render();
  EXPECT_NE(text.find("# TYPE kaas_wait_seconds histogram\n"), std::string::npos);
  EXPECT_NE(text.find("kaas_wait_seconds_bucket{route=\"/x\",le=\"0.1\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("kaas_wait_seconds_bucket{route=\"/x\",le=\"1\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("kaas_wait_seconds_bucket{route=\"/x\",le=\"+Inf\"} 4\n"), std::string::npos);
  EXPECT_NE(text.find("kaas_wait_seconds_sum{route=\"/x\"} 7.65\n"), std::string::npos);
  EXPECT_NE(text.find("kaas_wait_seconds_count{route=\"/x\"} 4\n"), std::string::npos);
  EXPECT_EQ(h.Count({"/x"}), 4u);
}

TEST(MetricsTest, SameNameReturnsSameFamilyAndCollectorsRunAtRender) {
  Registry r;
  auto& a = r.Counter("kaas_x_total", "X.", {});
  auto& b = r.Counter("kaas_x_total", "X again.", {});
  EXPECT_EQ(&a, &b);
  int calls = 0;
  r.AddCollector([&](Exposition& out) {
    ++calls;
    out.Family("kaas_g", "G.", "gauge");
    out.Sample("kaas_g", {{"state", "up"}}, 2.5);
  });
  std::string text = r.Render();
  EXPECT_EQ(calls, 1);
  EXPECT_NE(text.find("kaas_g{state=\"up\"} 2.5\n"), std::string::npos);
}

}  // namespace
}  // namespace kaas::metrics
