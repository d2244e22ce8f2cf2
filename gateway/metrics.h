#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace admissions::gateway {

/// Prometheus metrics of the gateway. Every series is allocated at start-up and indexed by a
/// dense id, so recording is a few relaxed atomic increments with no lock and no allocation:
///   gateway_requests_total{route,method,status}
///   gateway_request_duration_seconds{route,method} (histogram, 0.001 s .. 10 s; from the
///     request's headers to its response being handed to the socket)
///   gateway_in_flight_requests
///   gateway_upstream_errors_total{service}
///   gateway_streamed_body_bytes_total{route,method,direction} (streamed routes only)
///   gateway_live_connections (gauge), gateway_live_messages_out_total,
///   gateway_live_slow_consumer_closes_total, gateway_live_upstream_streams (gauge),
///   gateway_live_upstream_restarts_total
class Metrics {
 public:
  /// Labels of one request series: the route template (or a fixed name such as "unmatched")
  /// and the HTTP method.
  struct SeriesLabels {
    std::string route;
    std::string method;
  };

  Metrics(std::vector<SeriesLabels> series, std::vector<std::string> services);

  /// Counts one finished request of `series` with its HTTP status and duration.
  void RecordRequest(int series, int http_status, double seconds);
  void RequestStarted() { in_flight_.fetch_add(1, std::memory_order_relaxed); }
  void RequestFinished() { in_flight_.fetch_sub(1, std::memory_order_relaxed); }
  int64_t in_flight() const { return in_flight_.load(std::memory_order_relaxed); }
  /// Counts the bytes of a streamed request body (`in`) and response body (`out`).
  void RecordStreamedBytes(int series, uint64_t in, uint64_t out);
  /// Counts a call to `service` that failed in transport or on the server's side.
  void RecordUpstreamError(int service);

  // The live channel (/v1/live).
  void LiveConnections(int delta) { live_connections_.fetch_add(delta, std::memory_order_relaxed); }
  void LiveMessagesOut(uint64_t n) { live_messages_out_.fetch_add(n, std::memory_order_relaxed); }
  void LiveSlowConsumerClose() { live_slow_consumers_.fetch_add(1, std::memory_order_relaxed); }
  void LiveUpstreamStreams(int delta) {
    live_upstream_streams_.fetch_add(delta, std::memory_order_relaxed);
  }
  void LiveUpstreamRestart() { live_upstream_restarts_.fetch_add(1, std::memory_order_relaxed); }
  int64_t live_connections() const { return live_connections_.load(std::memory_order_relaxed); }
  int64_t live_upstream_streams() const {
    return live_upstream_streams_.load(std::memory_order_relaxed);
  }
  uint64_t live_slow_consumer_closes() const {
    return live_slow_consumers_.load(std::memory_order_relaxed);
  }

  /// The text exposition format (version 0.0.4).
  std::string Render() const;

  /// The histogram's upper bounds, in seconds.
  static const std::vector<double>& Buckets();

 private:
  /// Statuses counted one by one; any other falls into its class ("2xx" ... "5xx").
  static constexpr int kStatuses[] = {101, 200, 201, 202, 204, 206, 400, 401, 403, 404, 405, 408,
                                      409, 413, 415, 426, 429, 431, 499, 500, 501, 502, 503, 504};
  static constexpr int kStatusSlots = sizeof(kStatuses) / sizeof(kStatuses[0]) + 5;
  static constexpr int kBucketCount = 13;
  static int StatusSlot(int http_status);

  struct Series {
    std::array<std::atomic<uint64_t>, kStatusSlots> by_status{};
    /// One per bound, then one past the last bound; the count is their sum.
    std::array<std::atomic<uint64_t>, kBucketCount + 1> buckets{};
    std::atomic<uint64_t> sum_micros{0};
    std::atomic<uint64_t> streamed_in{0};
    std::atomic<uint64_t> streamed_out{0};
  };

  std::vector<SeriesLabels> labels_;
  std::unique_ptr<Series[]> series_;
  std::vector<std::string> services_;
  std::unique_ptr<std::atomic<uint64_t>[]> upstream_errors_;
  std::atomic<int64_t> in_flight_{0};
  std::atomic<int64_t> live_connections_{0};
  std::atomic<uint64_t> live_messages_out_{0};
  std::atomic<uint64_t> live_slow_consumers_{0};
  std::atomic<int64_t> live_upstream_streams_{0};
  std::atomic<uint64_t> live_upstream_restarts_{0};
};

}  // namespace admissions::gateway
