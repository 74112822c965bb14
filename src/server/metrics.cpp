#include "server/metrics.h"

#include <cstdio>

namespace hark::server {

void Metrics::observe_request(const std::string& route, int status, double seconds) {
  std::lock_guard lock(mu_);
  ++requests_[{route, status}];
  auto& buckets = latency_buckets_[route];
  size_t i = 0;
  while (i < kBuckets.size() && seconds > kBuckets[i]) ++i;
  ++buckets[i];
  latency_sum_[route] += seconds;
}

void Metrics::add_audio_seconds(double seconds) {
  std::lock_guard lock(mu_);
  audio_seconds_ += seconds;
}

void Metrics::add_usage(const runtime::Usage& u) {
  std::lock_guard lock(mu_);
  tokens_.input_text_tokens += u.input_text_tokens;
  tokens_.input_audio_tokens += u.input_audio_tokens;
  tokens_.output_tokens += u.output_tokens;
}

std::string Metrics::render(int running, int queued, bool ready) const {
  std::lock_guard lock(mu_);
  std::string out;
  char line[256];
  auto add = [&](const char* fmt, auto... args) {
    std::snprintf(line, sizeof line, fmt, args...);
    out += line;
  };
  out +=
      "# HELP hark_requests_total HTTP requests by route and status code.\n# TYPE hark_requests_total "
      "counter\n";
  for (const auto& [key, n] : requests_)
    add("hark_requests_total{route=\"%s\",code=\"%d\"} %llu\n", key.first.c_str(), key.second,
        static_cast<unsigned long long>(n));
  out +=
      "# HELP hark_request_duration_seconds Time from request to last byte.\n"
      "# TYPE hark_request_duration_seconds histogram\n";
  for (const auto& [route, buckets] : latency_buckets_) {
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= kBuckets.size(); ++i) {
      cumulative += buckets[i];
      if (i < kBuckets.size())
        add("hark_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n", route.c_str(), kBuckets[i],
            static_cast<unsigned long long>(cumulative));
      else
        add("hark_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n", route.c_str(),
            static_cast<unsigned long long>(cumulative));
    }
    add("hark_request_duration_seconds_sum{route=\"%s\"} %.6f\n", route.c_str(), latency_sum_.at(route));
    add("hark_request_duration_seconds_count{route=\"%s\"} %llu\n", route.c_str(),
        static_cast<unsigned long long>(cumulative));
  }
  out += "# HELP hark_requests_running Requests running inference.\n# TYPE hark_requests_running gauge\n";
  add("hark_requests_running %d\n", running);
  out += "# HELP hark_queue_depth Requests waiting for a slot.\n# TYPE hark_queue_depth gauge\n";
  add("hark_queue_depth %d\n", queued);
  out += "# HELP hark_model_ready 1 once the model is loaded.\n# TYPE hark_model_ready gauge\n";
  add("hark_model_ready %d\n", ready ? 1 : 0);
  out +=
      "# HELP hark_audio_seconds_total Seconds of audio decoded for requests.\n"
      "# TYPE hark_audio_seconds_total counter\n";
  add("hark_audio_seconds_total %.3f\n", audio_seconds_);
  out += "# HELP hark_tokens_total Tokens processed by kind.\n# TYPE hark_tokens_total counter\n";
  add("hark_tokens_total{kind=\"input_text\"} %lld\n", static_cast<long long>(tokens_.input_text_tokens));
  add("hark_tokens_total{kind=\"input_audio\"} %lld\n", static_cast<long long>(tokens_.input_audio_tokens));
  add("hark_tokens_total{kind=\"output\"} %lld\n", static_cast<long long>(tokens_.output_tokens));
  return out;
}

}  // namespace hark::server
