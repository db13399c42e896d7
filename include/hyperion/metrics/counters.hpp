#pragma once
// The cells every metric is made of. They live in memory shared between the
// master and its workers (stats_region.hpp), so they are lock-free atomics
// with no pointers and no constructors that matter: zeroed bytes are a valid,
// empty cell. A worker writes its own cells; the master only reads them.
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace hyperion::metrics {

// Written by one thread only (the worker's event loop): a relaxed load and
// store, so counting costs no locked instruction on the request path.
struct OwnedCounter {
  std::atomic<std::uint64_t> value{0};
  void add(std::uint64_t n = 1) { value.store(value.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  std::uint64_t get() const { return value.load(std::memory_order_relaxed); }
};

// Written by several threads (the worker's Ruby threads).
struct SharedCounter {
  std::atomic<std::uint64_t> value{0};
  void add(std::uint64_t n = 1) { value.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t get() const { return value.load(std::memory_order_relaxed); }
};

// A level one thread sets (connections open, queue depth).
struct Gauge {
  std::atomic<std::int64_t> value{0};
  void set(std::int64_t v) { value.store(v, std::memory_order_relaxed); }
  void add(std::int64_t n) { value.store(value.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  std::int64_t get() const { return value.load(std::memory_order_relaxed); }
};

// Upper bounds of the histogram buckets, for every histogram: 100 µs to 10 s
// covers a page-cache hit's queue time and a slow report alike.
inline constexpr std::array<std::chrono::nanoseconds, 16> kBucketBounds = {
    std::chrono::microseconds(100), std::chrono::microseconds(250), std::chrono::microseconds(500),
    std::chrono::milliseconds(1),   std::chrono::microseconds(2500), std::chrono::milliseconds(5),
    std::chrono::milliseconds(10),  std::chrono::milliseconds(25),   std::chrono::milliseconds(50),
    std::chrono::milliseconds(100), std::chrono::milliseconds(250),  std::chrono::milliseconds(500),
    std::chrono::seconds(1),        std::chrono::milliseconds(2500), std::chrono::seconds(5),
    std::chrono::seconds(10)};
inline constexpr std::size_t kBuckets = kBucketBounds.size() + 1;  // the last one is +Inf

inline std::size_t bucketFor(std::chrono::nanoseconds d) {
  std::size_t i = 0;
  while (i < kBucketBounds.size() && d > kBucketBounds[i]) ++i;
  return i;
}

// Per-bucket counts (not cumulative: the exporter adds them up) and the sum
// in nanoseconds; the count is the sum of the buckets.
template <typename Counter>
struct Histogram {
  std::array<Counter, kBuckets> buckets{};
  Counter sum_ns{};
  void observe(std::chrono::nanoseconds d) {
    if (d.count() < 0) d = std::chrono::nanoseconds(0);
    buckets[bucketFor(d)].add(1);
    sum_ns.add(static_cast<std::uint64_t>(d.count()));
  }
};

// What the exporter keeps of a histogram: plain numbers it can add up.
struct HistogramValues {
  std::array<std::uint64_t, kBuckets> buckets{};
  std::uint64_t sum_ns = 0;
  template <typename Counter>
  void add(const Histogram<Counter>& h) {
    for (std::size_t i = 0; i < kBuckets; ++i) buckets[i] += h.buckets[i].get();
    sum_ns += h.sum_ns.get();
  }
  void add(const HistogramValues& other) {
    for (std::size_t i = 0; i < kBuckets; ++i) buckets[i] += other.buckets[i];
    sum_ns += other.sum_ns;
  }
  std::uint64_t count() const {
    std::uint64_t n = 0;
    for (auto b : buckets) n += b;
    return n;
  }
};

}  // namespace hyperion::metrics
