#pragma once
// The shared memory the worker blocks (worker_stats.hpp) live in: one
// anonymous MAP_SHARED mapping the master makes before its first fork, so
// every worker it forks sees the same pages. Each worker process gets a
// block of its own (a phased restart briefly runs two workers for one
// index); the master hands blocks out and takes them back when a worker is
// reaped, folding what it counted into the exporter's totals first.
#include <sys/types.h>

#include <cstddef>
#include <memory>

#include "hyperion/metrics/worker_stats.hpp"
#include "hyperion/util/result.hpp"

namespace hyperion::metrics {

class StatsRegion {
 public:
  static Result<StatsRegion> create(std::size_t blocks);
  StatsRegion(StatsRegion&& other) noexcept;
  StatsRegion& operator=(StatsRegion&& other) noexcept;
  StatsRegion(const StatsRegion&) = delete;
  StatsRegion& operator=(const StatsRegion&) = delete;
  ~StatsRegion();

  std::size_t blocks() const { return blocks_; }
  WorkerStats& block(std::size_t i) { return stats_[i]; }
  const WorkerStats& block(std::size_t i) const { return stats_[i]; }
  bool inUse(std::size_t i) const { return in_use_[i]; }

  // A zeroed block for a new worker (of pool index `index`), or -1 when all
  // are taken (the worker then counts into a private block nobody reads).
  int claim(int index);
  void setPid(int block, pid_t pid);
  void release(int block);

 private:
  StatsRegion(WorkerStats* stats, std::size_t blocks)
      : stats_(stats), in_use_(std::make_unique<bool[]>(blocks)), blocks_(blocks) {}
  WorkerStats* stats_ = nullptr;           // the mapping
  std::unique_ptr<bool[]> in_use_;         // master-only bookkeeping (private memory)
  std::size_t blocks_ = 0;
};

}  // namespace hyperion::metrics
