#include "hyperion/static/static_directory.hpp"

#include <fmt/format.h>
#include <sys/stat.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <set>
#include <system_error>

#include "hyperion/static/mime_types.hpp"
#include "hyperion/static/request_path.hpp"

namespace hyperion::static_files {
namespace {

namespace fs = std::filesystem;

std::optional<std::string> realPath(const std::string& path) {
  char buffer[PATH_MAX];
  if (::realpath(path.c_str(), buffer) == nullptr) return std::nullopt;
  return std::string(buffer);
}

bool endsWith(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

// "/a/b.css.gz" -> "/a/b.css"; nullopt when the key is not a compressed sibling.
std::optional<std::string> baseOfVariant(const std::string& key) {
  for (std::string_view suffix : {".gz", ".br"}) {
    // A bare "/.gz" has no base to be a variant of.
    if (endsWith(key, suffix) && key.size() > suffix.size() + 1 && key[key.size() - suffix.size() - 1] != '/') {
      return key.substr(0, key.size() - suffix.size());
    }
  }
  return std::nullopt;
}

}  // namespace

Result<StaticDirectory> StaticDirectory::load(const std::string& dir, bool immutable, std::size_t max_file_bytes) {
  Options options;
  options.immutable = immutable;
  options.max_file_bytes = max_file_bytes;
  return load(dir, std::move(options));
}

Result<StaticDirectory> StaticDirectory::load(const std::string& dir, Options options) {
  const auto started = Clock::now();
  auto root = realPath(dir);
  if (!root) return Error{fmt::format("static directory {}: {}", dir, std::strerror(errno))};
  struct stat st {};
  if (::stat(root->c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Error{fmt::format("static directory {}: not a directory", dir)};
  }

  StaticDirectory directory;
  directory.root_ = std::move(*root);
  directory.options_ = std::move(options);
  if (!directory.options_.now) directory.options_.now = [] { return Clock::now(); };
  directory.stats_.dir = directory.root_;
  const std::size_t prefix_length = directory.root_ == "/" ? 0 : directory.root_.size();

  // First the keys of everything that could be served, so a ".gz" can tell
  // whether its base exists before anything is read.
  std::set<std::string> keys;
  std::error_code ec;
  fs::recursive_directory_iterator walk(directory.root_, fs::directory_options::skip_permission_denied, ec);
  for (; !ec && walk != fs::recursive_directory_iterator(); walk.increment(ec)) {
    const fs::file_status own = walk->symlink_status(ec);
    if (ec) break;
    // Real directories are descended into by the iterator; symlinked ones are
    // not followed (follow_directory_symlink is off) and never served.
    if (fs::is_directory(own)) continue;
    if (!fs::is_regular_file(own) && !fs::is_symlink(own)) continue;  // sockets, FIFOs, devices
    keys.insert(walk->path().string().substr(prefix_length));
  }
  if (ec) return Error{fmt::format("static directory {}: {}", dir, ec.message())};

  for (const std::string& key : keys) {
    if (auto base = baseOfVariant(key); base && keys.count(*base) != 0 && directory.resolve(*base)) continue;
    auto resolved = directory.resolve(key);
    if (!resolved) {
      // A symlink pointing outside, to a directory, or dangling.
      ++directory.stats_.skipped;
      continue;
    }
    auto file = directory.loadResolved(key, *resolved);
    if (!file) {
      ++directory.stats_.skipped;
      continue;
    }
    ++directory.stats_.files;
    directory.stats_.bytes += file->totalBytes();
    directory.entries_.emplace(key, Entry{std::move(file), directory.now()});
  }
  directory.stats_.ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
  return directory;
}

std::optional<StaticDirectory::ResolvedFile> StaticDirectory::resolveInside(const std::string& filesystem_path) const {
  auto real = realPath(filesystem_path);
  if (!real) return std::nullopt;
  const bool inside = root_ == "/" || (real->size() > root_.size() && real->compare(0, root_.size(), root_) == 0 &&
                                       (*real)[root_.size()] == '/');
  if (!inside) return std::nullopt;
  auto stamp = statRegularFile(*real);
  if (!stamp) return std::nullopt;
  return ResolvedFile{std::move(*real), *stamp};
}

std::optional<StaticDirectory::Resolved> StaticDirectory::resolve(const std::string& key) const {
  const std::string path = (root_ == "/" ? std::string() : root_) + key;
  auto base = resolveInside(path);
  if (!base) return std::nullopt;
  return Resolved{std::move(*base), resolveInside(path + ".gz"), resolveInside(path + ".br")};
}

bool StaticDirectory::isHiddenVariant(const std::string& key) const {
  const auto base = baseOfVariant(key);
  return base && resolve(*base).has_value();
}

std::shared_ptr<const CachedFile> StaticDirectory::loadResolved(const std::string& key,
                                                                const Resolved& resolved) const {
  auto base = readCachedFile(resolved.base.real_path, options_.immutable, options_.max_file_bytes);
  if (!base) return nullptr;
  std::shared_ptr<CachedFile> file = std::move(base.value());
  // The URL names the type: a symlink "app.js -> build/app.3f2a" is still JavaScript.
  file->content_type = std::string(mimeTypeFor(key));
  auto attach = [&](const std::optional<ResolvedFile>& sibling, std::string_view coding,
                    std::shared_ptr<const CachedFile>& slot) {
    if (!sibling) return;
    auto variant = readCachedFile(sibling->real_path, options_.immutable, options_.max_file_bytes);
    if (!variant) return;  // a sibling we cannot read just means no compressed answer
    markAsVariant(*variant.value(), coding);
    slot = std::move(variant.value());
  };
  attach(resolved.gzip, "gzip", file->gzip);
  attach(resolved.brotli, "br", file->brotli);
  return file;
}

std::shared_ptr<const CachedFile> StaticDirectory::recheck(const std::string& key, Entry& entry) const {
  auto resolved = resolve(key);
  if (!resolved) return nullptr;
  const CachedFile& file = *entry.file;
  auto same = [](const std::optional<ResolvedFile>& now_on_disk, const std::shared_ptr<const CachedFile>& cached) {
    if (!now_on_disk || !cached) return !now_on_disk && !cached;
    return now_on_disk->real_path == cached->path && now_on_disk->stamp == stampOf(*cached);
  };
  const bool unchanged = resolved->base.real_path == file.path && resolved->base.stamp == stampOf(file) &&
                         same(resolved->gzip, file.gzip) && same(resolved->brotli, file.brotli);
  if (unchanged) return entry.file;
  return loadResolved(key, *resolved);
}

std::shared_ptr<const CachedFile> StaticDirectory::lookupKey(const std::string& key) const {
  const auto found = entries_.find(key);
  if (found != entries_.end()) {
    Entry& entry = found->second;
    if (options_.immutable) return entry.file;
    const auto current = now();
    if (current - entry.checked_at <= options_.recheck_interval) return entry.file;
    auto file = recheck(key, entry);
    if (!file) {
      entries_.erase(found);  // vanished, moved outside, or unreadable now
      return nullptr;
    }
    entry = Entry{std::move(file), current};
    return entry.file;
  }
  if (options_.immutable) return nullptr;

  // Live directory: a file created after boot is picked up on first request.
  if (isHiddenVariant(key)) return nullptr;
  auto resolved = resolve(key);
  if (!resolved) return nullptr;
  auto file = loadResolved(key, *resolved);
  if (!file) return nullptr;
  entries_.emplace(key, Entry{file, now()});
  return file;
}

StaticDirectory::Lookup StaticDirectory::find(std::string_view raw_path) const {
  const auto normalized = normalizeRequestPath(raw_path);
  if (!normalized) return {LookupKind::Rejected, nullptr};
  const std::string& key = normalized->key;
  const std::string index_key = (key == "/" ? std::string() : key) + "/index.html";

  std::shared_ptr<const CachedFile> file;
  if (normalized->trailing_slash) {
    // "/docs/" only ever means the directory; a file "docs" does not answer it.
    file = lookupKey(index_key);
  } else {
    file = lookupKey(key);
    if (!file) file = lookupKey(index_key);
  }
  if (!file) return {LookupKind::NotFound, nullptr};
  return {LookupKind::Found, std::move(file)};
}

}  // namespace hyperion::static_files
