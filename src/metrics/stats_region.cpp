#include "hyperion/metrics/stats_region.hpp"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <new>
#include <string>
#include <utility>

namespace hyperion::metrics {

Result<StatsRegion> StatsRegion::create(std::size_t blocks) {
  // Untouched pages cost nothing: a block is written (zeroed) only when a
  // worker gets it.
  void* memory = ::mmap(nullptr, blocks * sizeof(WorkerStats), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED)
    return Error{"cannot map " + std::to_string(blocks) + " metrics blocks: " + std::strerror(errno)};
  return StatsRegion(static_cast<WorkerStats*>(memory), blocks);
}

StatsRegion::StatsRegion(StatsRegion&& other) noexcept
    : stats_(std::exchange(other.stats_, nullptr)),
      in_use_(std::move(other.in_use_)),
      blocks_(std::exchange(other.blocks_, 0)) {}

StatsRegion& StatsRegion::operator=(StatsRegion&& other) noexcept {
  std::swap(stats_, other.stats_);
  std::swap(in_use_, other.in_use_);
  std::swap(blocks_, other.blocks_);
  return *this;
}

StatsRegion::~StatsRegion() {
  if (stats_) ::munmap(stats_, blocks_ * sizeof(WorkerStats));
}

int StatsRegion::claim(int index) {
  for (std::size_t i = 0; i < blocks_; ++i) {
    if (in_use_[i]) continue;
    in_use_[i] = true;
    // The block's previous worker is gone (reaped) and its counts folded:
    // a fresh object over the same bytes starts every cell at zero.
    WorkerStats* fresh = new (&stats_[i]) WorkerStats();
    fresh->index.store(index, std::memory_order_relaxed);
    return static_cast<int>(i);
  }
  return -1;
}

void StatsRegion::setPid(int block, pid_t pid) {
  if (block >= 0) stats_[block].pid.store(pid, std::memory_order_relaxed);
}

void StatsRegion::release(int block) {
  if (block >= 0) in_use_[block] = false;
}

}  // namespace hyperion::metrics
