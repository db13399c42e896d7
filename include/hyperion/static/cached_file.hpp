#pragma once
// One file read whole into memory, with the validators and type a response
// needs precomputed, so serving it is a lookup and a write.
#include <sys/stat.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <memory>
#include <optional>
#include <string>

#include "hyperion/util/result.hpp"

namespace hyperion::static_files {

struct CachedFile {
  std::string path;  // filesystem path it was read from
  std::string body;  // whole content
  std::uint64_t size = 0;
  timespec mtime{};  // st_mtim
  ino_t inode = 0;
  std::string etag;           // strong: "\"<size hex>-<mtime sec hex><mtime nsec hex, 8 digits>\""
  std::string last_modified;  // IMF-fixdate of mtime
  std::string content_type;   // mimeTypeFor(path)
  bool immutable = false;
  // Precompressed siblings, chosen by Accept-Encoding. Their own content_type
  // is that of the .gz/.br file; a response uses the base file's.
  std::shared_ptr<const CachedFile> gzip;    // path + ".gz"
  std::shared_ptr<const CachedFile> brotli;  // path + ".br"

  bool hasVariants() const { return gzip != nullptr || brotli != nullptr; }
  // Memory held by this entry, variants included: what a cache budget counts.
  std::size_t totalBytes() const;
};

// What stat() says about a file; equal stamps mean "unchanged" for a cache.
struct FileStamp {
  std::uint64_t size = 0;
  timespec mtime{};
  ino_t inode = 0;
  friend bool operator==(const FileStamp& a, const FileStamp& b) {
    return a.size == b.size && a.mtime.tv_sec == b.mtime.tv_sec && a.mtime.tv_nsec == b.mtime.tv_nsec &&
           a.inode == b.inode;
  }
};

FileStamp stampOf(const struct stat& st);
FileStamp stampOf(const CachedFile& file);
// nullopt when the path does not name a regular file (missing, directory, ...).
std::optional<FileStamp> statRegularFile(const std::string& path);

// The file alone, without looking for compressed siblings. Errors: missing,
// not a regular file, bigger than max_file_bytes, unreadable, changed while read.
Result<std::shared_ptr<CachedFile>> readCachedFile(const std::string& path, bool immutable, std::size_t max_file_bytes);

// The file plus path.gz / path.br when those are readable regular files within
// the limit; a sibling that cannot be loaded is simply left out.
Result<std::shared_ptr<const CachedFile>> loadCachedFile(const std::string& path, bool immutable,
                                                         std::size_t max_file_bytes);

// The variant etag gets a coding suffix so no two representations of one
// resource can share a strong validator, even with equal size and mtime.
void markAsVariant(CachedFile& variant, std::string_view coding);

}  // namespace hyperion::static_files
