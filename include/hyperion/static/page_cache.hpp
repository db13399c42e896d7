#pragma once
// Files read on first use and kept in memory, keyed by filesystem path.
//
// One PageCache per worker, used only by that worker's event loop thread, so
// nothing here locks. Entries are handed out as shared_ptr<const CachedFile>:
// a reload or eviction never pulls bytes out from under a response still being
// written, the old entry lives until its last writer lets go.
#include <chrono>
#include <cstddef>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>

#include "hyperion/static/cached_file.hpp"

namespace hyperion::static_files {

// Outside PageCache only so `Options options = {}` can be a default argument
// (a nested struct with member initializers is incomplete there).
struct PageCacheOptions {
  std::chrono::milliseconds recheck_interval{5000};
  std::size_t max_bytes = 256u << 20;                          // bodies, variants included
  std::size_t max_file_bytes = 64u << 20;                      // per file read on a miss
  std::function<std::chrono::steady_clock::time_point()> now;  // defaults to steady_clock::now; tests inject a fake
};

class PageCache {
 public:
  using Clock = std::chrono::steady_clock;

  using Options = PageCacheOptions;

  explicit PageCache(Options options = {});

  // The entry for a filesystem path: loads it on a miss. An entry that is not
  // immutable and was last checked more than recheck_interval ago is stat()ed
  // (with its .gz/.br siblings) and reloaded if size, mtime or inode changed; a
  // file that vanished is dropped. nullptr when missing or not cacheable (too
  // big for max_file_bytes or for max_bytes). Misses are not remembered: asking
  // for a missing file again costs an open() again.
  std::shared_ptr<const CachedFile> get(const std::string& path);

  // Inserts or replaces the entry for file->path, e.g. a preloaded immutable
  // file. Ignored when the file alone exceeds max_bytes.
  void put(std::shared_ptr<const CachedFile> file);
  void erase(const std::string& path);

  std::size_t bytes() const { return bytes_; }
  std::size_t size() const { return entries_.size(); }

 private:
  // Eviction order: mutable entries least recently used first; immutable ones
  // (preloaded, typically fingerprinted assets) only once no mutable entry is
  // left, least recently used first among them. So a burst of one-off files
  // cannot push out the assets every page needs.
  using LruList = std::list<std::string>;  // front = most recently used

  struct Entry {
    std::shared_ptr<const CachedFile> file;
    Clock::time_point checked_at;
    LruList::iterator lru_position;
    std::size_t bytes = 0;
  };

  LruList& lruFor(const CachedFile& file) { return file.immutable ? immutable_lru_ : mutable_lru_; }
  Clock::time_point now() const { return options_.now(); }
  bool unchangedOnDisk(const CachedFile& file) const;
  std::shared_ptr<const CachedFile> insert(std::shared_ptr<const CachedFile> file);
  void evictFor(std::size_t incoming_bytes);

  Options options_;
  std::unordered_map<std::string, Entry> entries_;
  LruList mutable_lru_;
  LruList immutable_lru_;
  std::size_t bytes_ = 0;
};

}  // namespace hyperion::static_files
