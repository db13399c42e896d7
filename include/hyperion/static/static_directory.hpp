#pragma once
// A directory of public files, read into memory at boot and looked up by URL path.
//
// Immutable (the default for preloaded assets): the table is built once and
// find() only reads it, so any number of threads may share one instance.
// Not immutable (development): find() re-stat()s an entry once it is older than
// recheck_interval and reloads it when it changed, drops it when it vanished,
// and loads files created after boot on their first request. That mutates the
// table, so a mutable StaticDirectory belongs to one event loop thread, like a
// PageCache.
//
// Nothing outside the directory is ever served: request paths with ".." are
// rejected before touching the filesystem, and every file (symlinks included)
// must realpath() to somewhere under the directory's own realpath.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "hyperion/static/cached_file.hpp"
#include "hyperion/util/result.hpp"

namespace hyperion::static_files {

struct PreloadStats {
  std::string dir;          // the directory's realpath
  std::size_t files = 0;    // entries loaded (compressed variants not counted separately)
  std::uint64_t bytes = 0;  // bodies, variants included
  double ms = 0;            // wall time of the walk and reads
  std::size_t skipped = 0;  // too big, unreadable, or a symlink leaving the directory
};

class StaticDirectory {
 public:
  using Clock = std::chrono::steady_clock;

  struct Options {
    bool immutable = true;
    std::size_t max_file_bytes = 64u << 20;
    std::chrono::milliseconds recheck_interval{5000};  // only when not immutable
    std::function<Clock::time_point()> now;            // defaults to steady_clock::now
  };

  // Walks dir recursively and loads every regular file of at most
  // max_file_bytes, keyed by its URL path relative to dir ("/css/app.css").
  // "x.gz" and "x.br" become variants of "x" and are not served on their own
  // when "x" exists. Symlinked files are loaded only when their target is
  // inside dir; symlinked directories are never descended into (that keeps the
  // walk free of cycles). Error when dir is not a readable directory.
  static Result<StaticDirectory> load(const std::string& dir, bool immutable, std::size_t max_file_bytes);
  static Result<StaticDirectory> load(const std::string& dir, Options options);

  enum class LookupKind { Found, NotFound, Rejected };
  struct Lookup {
    LookupKind kind = LookupKind::NotFound;
    std::shared_ptr<const CachedFile> file;  // set when Found
  };

  // By raw request path (percent-encoded, as Request::path() gives it). Rejected
  // for traversal attempts and malformed paths (see normalizeRequestPath).
  // "/" and directory paths ("/docs/" and "/docs") give their index.html when
  // it exists; a directory itself is never served.
  Lookup find(std::string_view raw_path) const;

  const PreloadStats& stats() const { return stats_; }
  std::size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::shared_ptr<const CachedFile> file;
    Clock::time_point checked_at;
  };
  struct ResolvedFile {
    std::string real_path;
    FileStamp stamp;
  };
  struct Resolved {
    ResolvedFile base;
    std::optional<ResolvedFile> gzip;
    std::optional<ResolvedFile> brotli;
  };

  StaticDirectory() = default;

  std::optional<ResolvedFile> resolveInside(const std::string& filesystem_path) const;
  std::optional<Resolved> resolve(const std::string& key) const;
  bool isHiddenVariant(const std::string& key) const;
  std::shared_ptr<const CachedFile> loadResolved(const std::string& key, const Resolved& resolved) const;
  std::shared_ptr<const CachedFile> lookupKey(const std::string& key) const;
  std::shared_ptr<const CachedFile> recheck(const std::string& key, Entry& entry) const;
  Clock::time_point now() const { return options_.now(); }

  std::string root_;  // realpath of the directory, without a trailing slash unless it is "/"
  Options options_;
  PreloadStats stats_;
  // mutable: find() is logically const; only the not-immutable mode writes here (see above).
  mutable std::unordered_map<std::string, Entry> entries_;
};

}  // namespace hyperion::static_files
