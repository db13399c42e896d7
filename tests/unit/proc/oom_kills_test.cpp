#include "hyperion/proc/oom_kills.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace hyperion::proc {
namespace {

namespace fs = std::filesystem;

class OomKills : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("oom-kills-" + std::to_string(::getpid()));
    fs::create_directories(root_ / "proc/self");
  }
  void TearDown() override { fs::remove_all(root_); }
  void write(const fs::path& path, const std::string& text) {
    fs::create_directories(path.parent_path());
    std::ofstream(path) << text;
  }
  std::optional<std::uint64_t> count() { return oomKillCount((root_ / "proc").string(), (root_ / "cg").string()); }
  fs::path root_;
};

TEST_F(OomKills, CgroupV2MemoryEvents) {
  write(root_ / "proc/self/cgroup", "0::/system.slice/app.service\n");
  write(root_ / "cg/system.slice/app.service/memory.events", "low 0\nhigh 0\nmax 4\noom 2\noom_kill 2\n");
  EXPECT_EQ(count(), 2u);
}

TEST_F(OomKills, CgroupV1MemoryController) {
  write(root_ / "proc/self/cgroup", "5:cpu,cpuacct:/\n4:memory:/docker/abc\n0::/\n");
  write(root_ / "cg/memory/docker/abc/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 7\n");
  EXPECT_EQ(count(), 7u);
}

TEST_F(OomKills, TheRootCgroupAndNothingReadable) {
  write(root_ / "proc/self/cgroup", "0::/\n");
  EXPECT_EQ(count(), std::nullopt);
  write(root_ / "cg/memory.events", "oom_kill 1\n");
  EXPECT_EQ(count(), 1u);
}

}  // namespace
}  // namespace hyperion::proc
