#include "hyperion/proc/cpu_count.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace hyperion::proc {
namespace {

namespace fs = std::filesystem;

TEST(CpuCount, TheQuotaCapsTheAffinityRoundedUp) {
  EXPECT_EQ(workersFor(8, 0), 8);     // no quota
  EXPECT_EQ(workersFor(8, 2.0), 2);   // docker --cpus=2
  EXPECT_EQ(workersFor(8, 1.5), 2);   // a limit of 1500m
  EXPECT_EQ(workersFor(8, 0.25), 1);  // never 0
  EXPECT_EQ(workersFor(2, 16), 2);    // a quota above the mask changes nothing
}

class CpuQuota : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("cpu-count-" + std::to_string(::getpid()));
    fs::create_directories(root_ / "proc/self");
  }
  void TearDown() override { fs::remove_all(root_); }
  void write(const fs::path& path, const std::string& text) {
    fs::create_directories(path.parent_path());
    std::ofstream(path) << text;
  }
  CpuCount count() { return usableCpus((root_ / "proc").string(), (root_ / "cg").string()); }
  fs::path root_;
};

TEST_F(CpuQuota, CgroupV2CpuMax) {
  write(root_ / "proc/self/cgroup", "0::/kubepods/pod1/c1\n");
  write(root_ / "cg/kubepods/pod1/c1/cpu.max", "150000 100000\n");
  EXPECT_DOUBLE_EQ(count().quota, 1.5);
  EXPECT_EQ(count().usable, std::min(count().affinity, 2));
}

TEST_F(CpuQuota, AParentsLimitAppliesAndMaxIsNone) {
  write(root_ / "proc/self/cgroup", "0::/a/b\n");
  write(root_ / "cg/a/b/cpu.max", "max 100000\n");
  write(root_ / "cg/a/cpu.max", "100000 100000\n");
  EXPECT_DOUBLE_EQ(count().quota, 1.0);
  EXPECT_EQ(count().usable, 1);
}

TEST_F(CpuQuota, CgroupV1CfsQuota) {
  write(root_ / "proc/self/cgroup", "4:cpu,cpuacct:/docker/x\n0::/\n");
  write(root_ / "cg/cpu/docker/x/cpu.cfs_quota_us", "50000\n");
  write(root_ / "cg/cpu/docker/x/cpu.cfs_period_us", "100000\n");
  EXPECT_DOUBLE_EQ(count().quota, 0.5);
  EXPECT_EQ(count().usable, 1);
}

TEST_F(CpuQuota, NoCgroupFilesMeansTheAffinityMask) {
  write(root_ / "proc/self/cgroup", "0::/\n");
  const auto c = count();
  EXPECT_EQ(c.quota, 0);
  EXPECT_EQ(c.usable, c.affinity);
  EXPECT_GE(c.affinity, 1);
}

}  // namespace
}  // namespace hyperion::proc
