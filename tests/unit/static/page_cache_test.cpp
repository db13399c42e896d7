#include "hyperion/static/page_cache.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>

using namespace hyperion::static_files;
using namespace std::chrono_literals;

namespace {

// A fresh directory per test, removed with everything in it afterwards.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "hyperion-page-cache-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data()) ? pattern : std::string();
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

  std::string write(const std::string& name, const std::string& content) const {
    const std::string full = file(name);
    std::ofstream(full, std::ios::binary | std::ios::trunc) << content;
    return full;
  }

 private:
  std::string path_;
};

void setMtime(const std::string& path, std::time_t seconds, long nanoseconds = 0) {
  timespec times[2] = {{seconds, nanoseconds}, {seconds, nanoseconds}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
}

// Time moves only when a test says so.
struct FakeClock {
  std::chrono::steady_clock::time_point current{std::chrono::seconds(1000)};
  std::function<std::chrono::steady_clock::time_point()> function() {
    return [this] { return current; };
  }
};

PageCache makeCache(FakeClock& clock, std::size_t max_bytes = 1u << 20, std::size_t max_file_bytes = 1u << 20) {
  PageCache::Options options;
  options.recheck_interval = 5000ms;
  options.max_bytes = max_bytes;
  options.max_file_bytes = max_file_bytes;
  options.now = clock.function();
  return PageCache(std::move(options));
}

}  // namespace

// ---- loadCachedFile ---------------------------------------------------------

TEST(StaticCachedFile, LoadsBodyAndMetadata) {
  TempDir dir;
  const auto path = dir.write("app.css", "body{color:red}");
  setMtime(path, 1700000000, 123456789);
  auto loaded = loadCachedFile(path, true, 1024);
  ASSERT_TRUE(loaded) << loaded.error();
  const CachedFile& file = *loaded.value();
  EXPECT_EQ(file.path, path);
  EXPECT_EQ(file.body, "body{color:red}");
  EXPECT_EQ(file.size, 15u);
  EXPECT_EQ(file.mtime.tv_sec, 1700000000);
  EXPECT_EQ(file.mtime.tv_nsec, 123456789);
  EXPECT_NE(file.inode, 0u);
  // "<size hex>-<sec hex><nsec hex, 8 digits>": 15 = f, 1700000000 = 6553f100, 123456789 = 075bcd15.
  EXPECT_EQ(file.etag, "\"f-6553f100075bcd15\"");
  EXPECT_EQ(file.last_modified, "Tue, 14 Nov 2023 22:13:20 GMT");
  EXPECT_EQ(file.content_type, "text/css; charset=utf-8");
  EXPECT_TRUE(file.immutable);
  EXPECT_FALSE(file.hasVariants());
}

TEST(StaticCachedFile, EmptyFileLoads) {
  TempDir dir;
  auto loaded = loadCachedFile(dir.write("empty.txt", ""), false, 1024);
  ASSERT_TRUE(loaded) << loaded.error();
  EXPECT_EQ(loaded.value()->size, 0u);
  EXPECT_TRUE(loaded.value()->body.empty());
  EXPECT_FALSE(loaded.value()->immutable);
}

TEST(StaticCachedFile, CompressedSiblingsAreAttached) {
  TempDir dir;
  const auto path = dir.write("app.js", "console.log(1)");
  dir.write("app.js.gz", "GZIPBYTES");
  dir.write("app.js.br", "BR");
  auto loaded = loadCachedFile(path, true, 1024);
  ASSERT_TRUE(loaded) << loaded.error();
  const CachedFile& file = *loaded.value();
  ASSERT_TRUE(file.gzip);
  ASSERT_TRUE(file.brotli);
  EXPECT_EQ(file.gzip->body, "GZIPBYTES");
  EXPECT_EQ(file.brotli->body, "BR");
  EXPECT_EQ(file.gzip->path, path + ".gz");
  EXPECT_NE(file.gzip->etag, file.etag);
  EXPECT_NE(file.gzip->etag, file.brotli->etag);
  EXPECT_EQ(file.totalBytes(), 14u + 9u + 2u);
}

TEST(StaticCachedFile, ErrorsAsValues) {
  TempDir dir;
  EXPECT_FALSE(loadCachedFile(dir.file("missing.txt"), false, 1024));
  EXPECT_FALSE(loadCachedFile(dir.path(), false, 1024));  // a directory
  auto too_big = loadCachedFile(dir.write("big.bin", std::string(2048, 'x')), false, 1024);
  ASSERT_FALSE(too_big);
  EXPECT_NE(too_big.error().find("too big"), std::string::npos) << too_big.error();
  // Exactly at the limit is fine.
  EXPECT_TRUE(loadCachedFile(dir.write("edge.bin", std::string(1024, 'x')), false, 1024));
}

TEST(StaticCachedFile, FifoIsRejectedWithoutBlocking) {
  TempDir dir;
  const auto fifo = dir.file("pipe");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto loaded = loadCachedFile(fifo, false, 1024);
  ASSERT_FALSE(loaded);
  EXPECT_NE(loaded.error().find("not a regular file"), std::string::npos) << loaded.error();
}

TEST(StaticCachedFile, UnreadableFileIsAnError) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads any file";
  TempDir dir;
  const auto path = dir.write("secret.txt", "x");
  ::chmod(path.c_str(), 0);
  EXPECT_FALSE(loadCachedFile(path, false, 1024));
}

TEST(StaticCachedFile, OversizedSiblingIsLeftOut) {
  TempDir dir;
  const auto path = dir.write("a.txt", "small");
  dir.write("a.txt.gz", std::string(100, 'z'));
  auto loaded = loadCachedFile(path, false, 50);
  ASSERT_TRUE(loaded);
  EXPECT_FALSE(loaded.value()->gzip);
}

// ---- PageCache --------------------------------------------------------------

TEST(PageCache, MissLoadsThenHitReturnsTheSameEntry) {
  TempDir dir;
  FakeClock clock;
  auto cache = makeCache(clock);
  const auto path = dir.write("a.txt", "hello");
  auto first = cache.get(path);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->body, "hello");
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.bytes(), 5u);
  auto second = cache.get(path);
  EXPECT_EQ(first.get(), second.get());
  EXPECT_EQ(cache.size(), 1u);
}

TEST(PageCache, MissingFileIsNullAndNotCached) {
  TempDir dir;
  FakeClock clock;
  auto cache = makeCache(clock);
  EXPECT_EQ(cache.get(dir.file("nope.txt")), nullptr);
  EXPECT_EQ(cache.get(dir.path()), nullptr);  // directories are not cacheable
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.bytes(), 0u);
}

TEST(PageCache, ChangedFileIsReloadedAfterTheIntervalButNotBefore) {
  TempDir dir;
  FakeClock clock;
  auto cache = makeCache(clock);
  const auto path = dir.write("a.txt", "version one");
  auto original = cache.get(path);
  ASSERT_TRUE(original);

  dir.write("a.txt", "version two, longer");
  clock.current += 5000ms;  // exactly the interval: not yet stale
  EXPECT_EQ(cache.get(path).get(), original.get());

  clock.current += 1ms;
  auto reloaded = cache.get(path);
  ASSERT_TRUE(reloaded);
  EXPECT_NE(reloaded.get(), original.get());
  EXPECT_EQ(reloaded->body, "version two, longer");
  EXPECT_EQ(cache.bytes(), reloaded->body.size());
  // The old entry is still intact for whoever is writing it.
  EXPECT_EQ(original->body, "version one");
}

TEST(PageCache, SameSizeChangeIsSeenThroughMtime) {
  TempDir dir;
  FakeClock clock;
  auto cache = makeCache(clock);
  const auto path = dir.write("a.txt", "AAAA");
  setMtime(path, 1600000000);
  auto original = cache.get(path);
  ASSERT_TRUE(original);
  dir.write("a.txt", "BBBB");
  setMtime(path, 1600000001);
  clock.current += 6s;
  auto reloaded = cache.get(path);
  ASSERT_TRUE(reloaded);
  EXPECT_EQ(reloaded->body, "BBBB");
}

TEST(PageCache, ReplacedFileIsSeenThroughInode) {
  TempDir dir;
  FakeClock clock;
  auto cache = makeCache(clock);
  const auto path = dir.write("a.txt", "AAAA");
  setMtime(path, 1600000000);
  auto original = cache.get(path);
  ASSERT_TRUE(original);
  // Deploy-style atomic replace: same size, same mtime, new inode.
  const auto staged = dir.write("staged.txt", "BBBB");
  setMtime(staged, 1600000000);
  ASSERT_EQ(::rename(staged.c_str(), path.c_str()), 0);
  clock.current += 6s;
  auto reloaded = cache.get(path);
  ASSERT_TRUE(reloaded);
  EXPECT_EQ(reloaded->body, "BBBB");
}

TEST(PageCache, UnchangedFileIsKeptAndItsCheckRenewed) {
  TempDir dir;
  FakeClock clock;
  auto cache = makeCache(clock);
  const auto path = dir.write("a.txt", "same");
  auto original = cache.get(path);
  clock.current += 6s;
  EXPECT_EQ(cache.get(path).get(), original.get());
  // Renewed at the recheck: a change now is not seen until another interval passes.
  dir.write("a.txt", "changed!");
  clock.current += 4s;
  EXPECT_EQ(cache.get(path).get(), original.get());
  clock.current += 2s;
  EXPECT_EQ(cache.get(path)->body, "changed!");
}

TEST(PageCache, NewCompressedSiblingIsPickedUpAtRecheck) {
  TempDir dir;
  FakeClock clock;
  auto cache = makeCache(clock);
  const auto path = dir.write("a.js", "let a");
  auto original = cache.get(path);
  ASSERT_TRUE(original);
  EXPECT_FALSE(original->gzip);
  dir.write("a.js.gz", "gz");
  clock.current += 6s;
  auto reloaded = cache.get(path);
  ASSERT_TRUE(reloaded);
  ASSERT_TRUE(reloaded->gzip);
  EXPECT_EQ(reloaded->gzip->body, "gz");
  EXPECT_EQ(cache.bytes(), 7u);
}

TEST(PageCache, VanishedFileIsDropped) {
  TempDir dir;
  FakeClock clock;
  auto cache = makeCache(clock);
  const auto path = dir.write("a.txt", "bye");
  ASSERT_TRUE(cache.get(path));
  ASSERT_EQ(::unlink(path.c_str()), 0);
  EXPECT_TRUE(cache.get(path));  // not rechecked yet
  clock.current += 6s;
  EXPECT_EQ(cache.get(path), nullptr);
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.bytes(), 0u);
}

TEST(PageCache, ImmutableEntriesAreNeverRechecked) {
  TempDir dir;
  FakeClock clock;
  auto cache = makeCache(clock);
  const auto path = dir.write("app.3f2a.js", "fingerprinted");
  auto loaded = loadCachedFile(path, /*immutable=*/true, 1024);
  ASSERT_TRUE(loaded);
  cache.put(loaded.value());
  ASSERT_EQ(::unlink(path.c_str()), 0);
  clock.current += 24h;
  auto entry = cache.get(path);
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->body, "fingerprinted");
}

TEST(PageCache, PutReplacesAndEraseRemoves) {
  TempDir dir;
  FakeClock clock;
  auto cache = makeCache(clock);
  const auto path = dir.write("a.txt", "12345");
  ASSERT_TRUE(cache.get(path));
  EXPECT_EQ(cache.bytes(), 5u);
  dir.write("a.txt", "1234567890");
  cache.put(loadCachedFile(path, true, 1024).value());
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.bytes(), 10u);
  cache.erase(path);
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.bytes(), 0u);
  cache.erase(path);  // erasing twice is harmless
  cache.put(nullptr);
  EXPECT_EQ(cache.size(), 0u);
}

TEST(PageCache, LeastRecentlyUsedIsEvictedUnderMaxBytes) {
  TempDir dir;
  FakeClock clock;
  auto cache = makeCache(clock, /*max_bytes=*/100);
  const auto a = dir.write("a", std::string(40, 'a'));
  const auto b = dir.write("b", std::string(40, 'b'));
  const auto c = dir.write("c", std::string(40, 'c'));
  auto entry_a = cache.get(a);
  ASSERT_TRUE(cache.get(b));
  ASSERT_TRUE(cache.get(a));  // a is now the most recently used
  ASSERT_TRUE(cache.get(c));  // 120 > 100: b goes
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_EQ(cache.bytes(), 80u);
  EXPECT_EQ(cache.get(a).get(), entry_a.get());  // still cached: no reload
  // b comes back as a miss, pushing out c (a was touched just now).
  auto entry_b = cache.get(b);
  ASSERT_TRUE(entry_b);
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_EQ(cache.get(a).get(), entry_a.get());
  EXPECT_LE(cache.bytes(), 100u);
}

TEST(PageCache, ImmutableEntriesAreEvictedLast) {
  TempDir dir;
  FakeClock clock;
  auto cache = makeCache(clock, /*max_bytes=*/100);
  const auto pinned = dir.write("pinned", std::string(40, 'p'));
  cache.put(loadCachedFile(pinned, true, 1024).value());
  const auto a = dir.write("a", std::string(40, 'a'));
  const auto b = dir.write("b", std::string(40, 'b'));
  ASSERT_TRUE(cache.get(a));
  ASSERT_TRUE(cache.get(b));  // a, the least recent mutable entry, goes, although pinned is older
  EXPECT_EQ(cache.size(), 2u);
  ::unlink(pinned.c_str());
  EXPECT_TRUE(cache.get(pinned));  // still served from memory

  // With only immutable entries left to evict, they go too, least recent first.
  cache.erase(b);
  const auto pinned2 = dir.write("pinned2", std::string(40, 'q'));
  cache.put(loadCachedFile(pinned2, true, 1024).value());
  const auto big = dir.write("big", std::string(60, 'x'));
  ASSERT_TRUE(cache.get(big));
  EXPECT_EQ(cache.bytes(), 100u);
  EXPECT_EQ(cache.get(pinned), nullptr);  // evicted, and gone from disk
  EXPECT_TRUE(cache.get(pinned2));
}

TEST(PageCache, FileBiggerThanTheBudgetIsNotCached) {
  TempDir dir;
  FakeClock clock;
  auto cache = makeCache(clock, /*max_bytes=*/100, /*max_file_bytes=*/1000);
  const auto small = dir.write("small", "tiny");
  ASSERT_TRUE(cache.get(small));
  EXPECT_EQ(cache.get(dir.write("huge", std::string(101, 'h'))), nullptr);
  EXPECT_EQ(cache.size(), 1u);  // and nothing was evicted for it
  EXPECT_TRUE(cache.get(small));
  cache.put(loadCachedFile(dir.file("huge"), true, 1000).value());
  EXPECT_EQ(cache.size(), 1u);
}

TEST(PageCache, FileBiggerThanMaxFileBytesIsNotCached) {
  TempDir dir;
  FakeClock clock;
  auto cache = makeCache(clock, /*max_bytes=*/1u << 20, /*max_file_bytes=*/10);
  EXPECT_EQ(cache.get(dir.write("eleven", std::string(11, 'e'))), nullptr);
  EXPECT_TRUE(cache.get(dir.write("ten", std::string(10, 't'))));
  EXPECT_EQ(cache.size(), 1u);
}

TEST(PageCache, FileThatGrowsTooBigIsDroppedAtRecheck) {
  TempDir dir;
  FakeClock clock;
  auto cache = makeCache(clock, /*max_bytes=*/1u << 20, /*max_file_bytes=*/10);
  const auto path = dir.write("grows", "short");
  ASSERT_TRUE(cache.get(path));
  dir.write("grows", "much longer than ten bytes");
  clock.current += 6s;
  EXPECT_EQ(cache.get(path), nullptr);
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.bytes(), 0u);
}

TEST(PageCache, DefaultClockWorks) {
  TempDir dir;
  PageCache cache;
  const auto path = dir.write("a.txt", "x");
  EXPECT_TRUE(cache.get(path));
  EXPECT_TRUE(cache.get(path));
}
