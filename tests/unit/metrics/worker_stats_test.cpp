#include "hyperion/metrics/worker_stats.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "hyperion/metrics/exporter.hpp"
#include "hyperion/metrics/stats_region.hpp"

namespace hyperion::metrics {
namespace {

using namespace std::chrono_literals;

std::unique_ptr<WorkerStats> fresh() { return std::make_unique<WorkerStats>(); }

TEST(WorkerStats, RequestsCountByStatusAndRoute) {
  auto stats = fresh();
  stats->recordRequest("GET", "/users/1", 200, 2ms);
  stats->recordRequest("GET", "/users/2?x=y", 200, 30ms);
  stats->recordRequest("GET", "/users/3", 404, 1ms);
  stats->recordRequest("POST", "/users", 201, 1ms);
  stats->recordRequest("GET", "/", 999, 1ms);  // not a status: counted under "other"
  EXPECT_EQ(stats->requests_by_status[200].get(), 2u);
  EXPECT_EQ(stats->requests_by_status[404].get(), 1u);
  EXPECT_EQ(stats->requests_by_status[201].get(), 1u);
  EXPECT_EQ(stats->requests_by_status[0].get(), 1u);

  Totals totals;
  totals.add(*stats);
  const auto& users_ok = totals.routes.at({"GET", "/users/:id", 2});
  EXPECT_EQ(users_ok.count(), 2u);
  EXPECT_EQ(users_ok.sum_ns, std::uint64_t{32'000'000});
  EXPECT_EQ(users_ok.buckets[bucketFor(2ms)], 1u);
  EXPECT_EQ(users_ok.buckets[bucketFor(30ms)], 1u);
  EXPECT_EQ(totals.routes.at({"GET", "/users/:id", 4}).count(), 1u);
  EXPECT_EQ(totals.routes.at({"POST", "/users", 2}).count(), 1u);
  EXPECT_EQ(totals.routes.size(), 4u);
}

TEST(WorkerStats, DistinctRoutesAreBoundedAndTheRestCountAsOther) {
  auto stats = fresh();
  for (std::size_t i = 0; i < kRouteLimit + 100; ++i) stats->recordRequest("GET", "/p" + std::to_string(i), 200, 1ms);
  stats->recordRequest("GET", "/p0", 200, 1ms);  // a known route still counts as itself
  Totals totals;
  totals.add(*stats);
  EXPECT_EQ(totals.routes.size(), kRouteLimit + 1);
  EXPECT_EQ(totals.routes.at({"GET", std::string(kOtherPath), 2}).count(), 100u);
  EXPECT_EQ(totals.routes.at({"GET", "/p0", 2}).count(), 2u);
}

TEST(WorkerStats, AnOverlongMethodCountsAsOther) {
  auto stats = fresh();
  stats->recordRequest("PROPPATCHX", "/", 405, 1ms);
  Totals totals;
  totals.add(*stats);
  EXPECT_EQ(totals.routes.count({"OTHER", "/", 4}), 1u);
}

TEST(StatsRegion, BlocksAreSharedWithAForkedChildAndZeroedWhenReused) {
  auto region = StatsRegion::create(2);
  ASSERT_TRUE(region.ok()) << region.error();
  const int block = region->claim(3);
  ASSERT_EQ(block, 0);
  EXPECT_EQ(region->block(0).index.load(), 3);
  const pid_t child = ::fork();
  if (child == 0) {  // the child counts, the parent reads
    region->block(0).recordRequest("GET", "/", 200, 1ms);
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_EQ(region->block(0).requests_by_status[200].get(), 1u);
  EXPECT_EQ(region->claim(1), 1);
  EXPECT_EQ(region->claim(2), -1);  // all taken
  region->release(0);
  EXPECT_EQ(region->claim(5), 0);
  EXPECT_EQ(region->block(0).requests_by_status[200].get(), 0u);
  EXPECT_EQ(region->block(0).index.load(), 5);
}

}  // namespace
}  // namespace hyperion::metrics
