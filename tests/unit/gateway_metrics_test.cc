#include <gtest/gtest.h>

#include "gateway/metrics.h"

namespace admissions::gateway {
namespace {

bool Contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

TEST(MetricsTest, CountsRequestsByStatus) {
  Metrics metrics({{"/v1/me", "GET"}, {"unmatched", "POST"}}, {"identity"});
  metrics.RecordRequest(0, 200, 0.002);
  metrics.RecordRequest(0, 200, 0.003);
  metrics.RecordRequest(0, 401, 0.0001);
  metrics.RecordRequest(1, 418, 0.5);
  std::string text = metrics.Render();
  EXPECT_TRUE(
      Contains(text, R"(gateway_requests_total{route="/v1/me",method="GET",status="200"} 2)"))
      << text;
  EXPECT_TRUE(
      Contains(text, R"(gateway_requests_total{route="/v1/me",method="GET",status="401"} 1)"));
  EXPECT_TRUE(
      Contains(text, R"(gateway_requests_total{route="unmatched",method="POST",status="4xx"} 1)"));
}

TEST(MetricsTest, HistogramIsCumulative) {
  Metrics metrics({{"/v1/me", "GET"}}, {});
  metrics.RecordRequest(0, 200, 0.0005);
  metrics.RecordRequest(0, 200, 0.02);
  metrics.RecordRequest(0, 200, 60);
  std::string text = metrics.Render();
  const std::string labels = R"(route="/v1/me",method="GET")";
  EXPECT_TRUE(
      Contains(text, "gateway_request_duration_seconds_bucket{" + labels + R"(,le="0.001"} 1)"));
  EXPECT_TRUE(
      Contains(text, "gateway_request_duration_seconds_bucket{" + labels + R"(,le="0.025"} 2)"));
  EXPECT_TRUE(
      Contains(text, "gateway_request_duration_seconds_bucket{" + labels + R"(,le="10"} 2)"));
  EXPECT_TRUE(
      Contains(text, "gateway_request_duration_seconds_bucket{" + labels + R"(,le="+Inf"} 3)"));
  EXPECT_TRUE(Contains(text, "gateway_request_duration_seconds_count{" + labels + "} 3"));
}

TEST(MetricsTest, GaugeAndUpstreamErrors) {
  Metrics metrics({}, {"identity", "payment"});
  metrics.RequestStarted();
  metrics.RequestStarted();
  metrics.RequestFinished();
  metrics.RecordUpstreamError(1);
  metrics.RecordUpstreamError(7);  // Out of range: ignored.
  std::string text = metrics.Render();
  EXPECT_TRUE(Contains(text, "gateway_in_flight_requests 1\n"));
  EXPECT_TRUE(Contains(text, R"(gateway_upstream_errors_total{service="identity"} 0)"));
  EXPECT_TRUE(Contains(text, R"(gateway_upstream_errors_total{service="payment"} 1)"));
}

TEST(MetricsTest, IgnoresUnknownSeries) {
  Metrics metrics({{"/a", "GET"}}, {});
  metrics.RecordRequest(-1, 200, 0.1);
  metrics.RecordRequest(5, 200, 0.1);
  EXPECT_FALSE(Contains(metrics.Render(), "gateway_requests_total{"));
}

}  // namespace
}  // namespace admissions::gateway
