// Prometheus counters for GET /metrics: requests by route and status, latency histogram, audio seconds and
// tokens processed. Gauges (running, queued, ready) are read at render time.
#pragma once

#include <array>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "runtime/engine.h"

namespace hark::server {

class Metrics {
 public:
  void observe_request(const std::string& route, int status, double seconds);
  void add_audio_seconds(double seconds);
  void add_usage(const runtime::Usage& u);

  std::string render(int running, int queued, bool ready) const;

 private:
  static constexpr std::array<double, 10> kBuckets = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;  // (route, status) -> count
  std::map<std::string, std::array<uint64_t, kBuckets.size() + 1>>
      latency_buckets_;  // route -> counts, +Inf last
  std::map<std::string, double> latency_sum_;
  double audio_seconds_ = 0.0;
  runtime::Usage tokens_;
};

}  // namespace hark::server
