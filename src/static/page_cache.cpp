#include "hyperion/static/page_cache.hpp"

#include <algorithm>
#include <utility>

namespace hyperion::static_files {
namespace {

// A sibling counts as unchanged when it is still absent, or still present with the same stamp.
bool variantUnchanged(const std::shared_ptr<const CachedFile>& variant, const std::string& path) {
  const auto stamp = statRegularFile(path);
  if (!variant) return !stamp.has_value();
  return stamp && *stamp == stampOf(*variant);
}

}  // namespace

PageCache::PageCache(Options options) : options_(std::move(options)) {
  if (!options_.now) options_.now = [] { return Clock::now(); };
}

bool PageCache::unchangedOnDisk(const CachedFile& file) const {
  const auto stamp = statRegularFile(file.path);
  if (!stamp || !(*stamp == stampOf(file))) return false;
  return variantUnchanged(file.gzip, file.path + ".gz") && variantUnchanged(file.brotli, file.path + ".br");
}

std::shared_ptr<const CachedFile> PageCache::get(const std::string& path) {
  const auto found = entries_.find(path);
  if (found != entries_.end()) {
    Entry& entry = found->second;
    const auto current = now();
    if (entry.file->immutable || current - entry.checked_at <= options_.recheck_interval) {
      auto& lru = lruFor(*entry.file);
      lru.splice(lru.begin(), lru, entry.lru_position);
      return entry.file;
    }
    if (unchangedOnDisk(*entry.file)) {
      entry.checked_at = current;
      auto& lru = lruFor(*entry.file);
      lru.splice(lru.begin(), lru, entry.lru_position);
      return entry.file;
    }
    // Changed or gone: forget it, then load afresh below (which fails if it vanished).
    erase(path);
  }

  // Reading a file the budget could never hold would be wasted work.
  const std::size_t limit = std::min(options_.max_file_bytes, options_.max_bytes);
  auto loaded = loadCachedFile(path, /*immutable=*/false, limit);
  if (!loaded) return nullptr;
  return insert(std::move(loaded.value()));
}

void PageCache::put(std::shared_ptr<const CachedFile> file) {
  if (!file) return;
  erase(file->path);
  insert(std::move(file));
}

std::shared_ptr<const CachedFile> PageCache::insert(std::shared_ptr<const CachedFile> file) {
  const std::size_t file_bytes = file->totalBytes();
  if (file_bytes > options_.max_bytes) return nullptr;
  evictFor(file_bytes);
  auto& lru = lruFor(*file);
  lru.push_front(file->path);
  Entry entry{file, now(), lru.begin(), file_bytes};
  bytes_ += file_bytes;
  entries_.insert_or_assign(file->path, std::move(entry));
  return file;
}

void PageCache::evictFor(std::size_t incoming_bytes) {
  while (bytes_ + incoming_bytes > options_.max_bytes) {
    LruList& victims = !mutable_lru_.empty() ? mutable_lru_ : immutable_lru_;
    if (victims.empty()) return;
    erase(std::string(victims.back()));  // copy: erase() frees the list node holding it
  }
}

void PageCache::erase(const std::string& path) {
  const auto found = entries_.find(path);
  if (found == entries_.end()) return;
  lruFor(*found->second.file).erase(found->second.lru_position);
  bytes_ -= found->second.bytes;
  entries_.erase(found);
}

}  // namespace hyperion::static_files
