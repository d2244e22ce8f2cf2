#include "gateway/metrics.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace admissions::gateway {
namespace {

constexpr double kBucketBounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                    0.25,  0.5,    1,     2.5,  5,     10};

std::string EscapeLabel(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string FormatBound(double bound) { return absl::StrFormat("%g", bound); }

}  // namespace

Metrics::Metrics(std::vector<SeriesLabels> series, std::vector<std::string> services)
    : labels_(std::move(series)),
      series_(new Series[labels_.size()]),
      services_(std::move(services)),
      upstream_errors_(new std::atomic<uint64_t>[services_.size()]) {
  static_assert(sizeof(kBucketBounds) / sizeof(kBucketBounds[0]) == kBucketCount);
  for (size_t i = 0; i < services_.size(); ++i) upstream_errors_[i].store(0);
}

const std::vector<double>& Metrics::Buckets() {
  static const auto* buckets =
      new std::vector<double>(std::begin(kBucketBounds), std::end(kBucketBounds));
  return *buckets;
}

int Metrics::StatusSlot(int http_status) {
  constexpr int kCount = sizeof(kStatuses) / sizeof(kStatuses[0]);
  for (int i = 0; i < kCount; ++i) {
    if (kStatuses[i] == http_status) return i;
  }
  int cls = std::clamp(http_status / 100, 1, 5);
  return kCount + cls - 1;
}

void Metrics::RecordRequest(int series, int http_status, double seconds) {
  if (series < 0 || static_cast<size_t>(series) >= labels_.size()) return;
  Series& s = series_[series];
  s.by_status[StatusSlot(http_status)].fetch_add(1, std::memory_order_relaxed);
  int bucket = 0;
  while (bucket < kBucketCount && seconds > kBucketBounds[bucket]) ++bucket;
  s.buckets[bucket].fetch_add(1, std::memory_order_relaxed);
  s.sum_micros.fetch_add(static_cast<uint64_t>(std::max(0.0, seconds) * 1e6),
                         std::memory_order_relaxed);
}

void Metrics::RecordStreamedBytes(int series, uint64_t in, uint64_t out) {
  if (series < 0 || static_cast<size_t>(series) >= labels_.size()) return;
  series_[series].streamed_in.fetch_add(in, std::memory_order_relaxed);
  series_[series].streamed_out.fetch_add(out, std::memory_order_relaxed);
}

void Metrics::RecordUpstreamError(int service) {
  if (service < 0 || static_cast<size_t>(service) >= services_.size()) return;
  upstream_errors_[service].fetch_add(1, std::memory_order_relaxed);
}

std::string Metrics::Render() const {
  constexpr int kCount = sizeof(kStatuses) / sizeof(kStatuses[0]);
  std::string out;
  out.reserve(4096);
  out += "# HELP gateway_requests_total HTTP requests answered, by route, method and status.\n";
  out += "# TYPE gateway_requests_total counter\n";
  for (size_t i = 0; i < labels_.size(); ++i) {
    std::string route = EscapeLabel(labels_[i].route);
    for (int slot = 0; slot < kStatusSlots; ++slot) {
      uint64_t n = series_[i].by_status[slot].load(std::memory_order_relaxed);
      if (n == 0) continue;
      std::string status =
          slot < kCount ? absl::StrCat(kStatuses[slot]) : absl::StrCat(slot - kCount + 1, "xx");
      absl::StrAppend(&out, "gateway_requests_total{route=\"", route, "\",method=\"",
                      labels_[i].method, "\",status=\"", status, "\"} ", n, "\n");
    }
  }
  out += "# HELP gateway_request_duration_seconds Time from request headers to the response.\n";
  out += "# TYPE gateway_request_duration_seconds histogram\n";
  for (size_t i = 0; i < labels_.size(); ++i) {
    const Series& s = series_[i];
    std::array<uint64_t, kBucketCount + 1> buckets;
    uint64_t count = 0;
    for (int b = 0; b <= kBucketCount; ++b) {
      buckets[b] = s.buckets[b].load(std::memory_order_relaxed);
      count += buckets[b];
    }
    if (count == 0) continue;
    std::string labels = absl::StrCat("route=\"", EscapeLabel(labels_[i].route), "\",method=\"",
                                      labels_[i].method, "\"");
    uint64_t cumulative = 0;
    for (int b = 0; b < kBucketCount; ++b) {
      cumulative += buckets[b];
      absl::StrAppend(&out, "gateway_request_duration_seconds_bucket{", labels, ",le=\"",
                      FormatBound(kBucketBounds[b]), "\"} ", cumulative, "\n");
    }
    absl::StrAppend(&out, "gateway_request_duration_seconds_bucket{", labels, ",le=\"+Inf\"} ",
                    count, "\n");
    absl::StrAppend(&out, "gateway_request_duration_seconds_sum{", labels, "} ",
                    absl::StrFormat("%.6f", s.sum_micros.load(std::memory_order_relaxed) / 1e6),
                    "\n");
    absl::StrAppend(&out, "gateway_request_duration_seconds_count{", labels, "} ", count, "\n");
  }
  out +=
      "# HELP gateway_streamed_body_bytes_total Body bytes of streamed requests (in) and "
      "responses (out).\n";
  out += "# TYPE gateway_streamed_body_bytes_total counter\n";
  for (size_t i = 0; i < labels_.size(); ++i) {
    const Series& s = series_[i];
    uint64_t in = s.streamed_in.load(std::memory_order_relaxed);
    uint64_t out_bytes = s.streamed_out.load(std::memory_order_relaxed);
    if (in == 0 && out_bytes == 0) continue;
    std::string labels = absl::StrCat("route=\"", EscapeLabel(labels_[i].route), "\",method=\"",
                                      labels_[i].method, "\"");
    absl::StrAppend(&out, "gateway_streamed_body_bytes_total{", labels, ",direction=\"in\"} ", in,
                    "\n");
    absl::StrAppend(&out, "gateway_streamed_body_bytes_total{", labels, ",direction=\"out\"} ",
                    out_bytes, "\n");
  }
  out += "# HELP gateway_in_flight_requests Requests being handled now.\n";
  out += "# TYPE gateway_in_flight_requests gauge\n";
  absl::StrAppend(&out, "gateway_in_flight_requests ", in_flight(), "\n");
  out +=
      "# HELP gateway_upstream_errors_total Upstream calls that failed in transport or on the "
      "server's side.\n";
  out += "# TYPE gateway_upstream_errors_total counter\n";
  for (size_t i = 0; i < services_.size(); ++i) {
    absl::StrAppend(&out, "gateway_upstream_errors_total{service=\"", EscapeLabel(services_[i]),
                    "\"} ", upstream_errors_[i].load(std::memory_order_relaxed), "\n");
  }
  auto load = [](const auto& value) { return value.load(std::memory_order_relaxed); };
  out += "# HELP gateway_live_connections Open live-channel WebSocket connections.\n";
  out += "# TYPE gateway_live_connections gauge\n";
  absl::StrAppend(&out, "gateway_live_connections ", load(live_connections_), "\n");
  out += "# HELP gateway_live_messages_out_total Messages written to live-channel clients.\n";
  out += "# TYPE gateway_live_messages_out_total counter\n";
  absl::StrAppend(&out, "gateway_live_messages_out_total ", load(live_messages_out_), "\n");
  out +=
      "# HELP gateway_live_slow_consumer_closes_total Live connections closed because their "
      "outgoing queue overflowed.\n";
  out += "# TYPE gateway_live_slow_consumer_closes_total counter\n";
  absl::StrAppend(&out, "gateway_live_slow_consumer_closes_total ", load(live_slow_consumers_),
                  "\n");
  out +=
      "# HELP gateway_live_upstream_streams Room event streams open to the waiting-room "
      "service.\n";
  out += "# TYPE gateway_live_upstream_streams gauge\n";
  absl::StrAppend(&out, "gateway_live_upstream_streams ", load(live_upstream_streams_), "\n");
  out += "# HELP gateway_live_upstream_restarts_total Room event streams restarted after ending.\n";
  out += "# TYPE gateway_live_upstream_restarts_total counter\n";
  absl::StrAppend(&out, "gateway_live_upstream_restarts_total ", load(live_upstream_restarts_),
                  "\n");
  return out;
}

}  // namespace admissions::gateway
