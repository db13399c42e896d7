#include "hyperion/static/cached_file.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "hyperion/net/unique_fd.hpp"
#include "hyperion/http/http_date.hpp"
#include "hyperion/static/mime_types.hpp"

namespace hyperion::static_files {
namespace {

Error systemError(std::string_view what, const std::string& path) {
  return Error{fmt::format("{} {}: {}", what, path, std::strerror(errno))};
}

std::string makeEtag(std::uint64_t size, const timespec& mtime) {
  return fmt::format("\"{:x}-{:x}{:08x}\"", size, static_cast<std::uint64_t>(mtime.tv_sec),
                     static_cast<std::uint64_t>(mtime.tv_nsec));
}

}  // namespace

std::size_t CachedFile::totalBytes() const {
  std::size_t total = body.size();
  if (gzip) total += gzip->body.size();
  if (brotli) total += brotli->body.size();
  return total;
}

FileStamp stampOf(const struct stat& st) {
  return FileStamp{static_cast<std::uint64_t>(st.st_size), st.st_mtim, st.st_ino};
}

FileStamp stampOf(const CachedFile& file) { return FileStamp{file.size, file.mtime, file.inode}; }

std::optional<FileStamp> statRegularFile(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  return stampOf(st);
}

Result<std::shared_ptr<CachedFile>> readCachedFile(const std::string& path, bool immutable,
                                                   std::size_t max_file_bytes) {
  // O_NONBLOCK so a FIFO planted in a static directory cannot hang the event
  // loop in open(); it has no effect on the regular files we go on to read.
  net::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (!fd) return systemError("cannot open", path);
  // fstat on the open descriptor: what we check is what we read.
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return systemError("cannot stat", path);
  if (!S_ISREG(st.st_mode)) return Error{fmt::format("not a regular file: {}", path)};
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (size > max_file_bytes) {
    return Error{fmt::format("too big to cache ({} bytes, limit {}): {}", size, max_file_bytes, path)};
  }

  auto file = std::make_shared<CachedFile>();
  file->body.resize(size);
  std::size_t filled = 0;
  while (filled < size) {
    const ssize_t n = ::read(fd.get(), file->body.data() + filled, size - filled);
    if (n < 0) {
      if (errno == EINTR) continue;
      return systemError("cannot read", path);
    }
    if (n == 0) break;
    filled += static_cast<std::size_t>(n);
  }
  // A short read or extra bytes mean someone is rewriting the file: better no
  // entry than one whose ETag describes different bytes.
  char probe = 0;
  if (filled != size || ::read(fd.get(), &probe, 1) > 0) {
    return Error{fmt::format("file changed while reading: {}", path)};
  }

  file->path = path;
  file->size = size;
  file->mtime = st.st_mtim;
  file->inode = st.st_ino;
  file->etag = makeEtag(size, st.st_mtim);
  file->last_modified = http::formatHttpDate(st.st_mtim.tv_sec);
  file->content_type = std::string(mimeTypeFor(path));
  file->immutable = immutable;
  return file;
}

void markAsVariant(CachedFile& variant, std::string_view coding) {
  if (variant.etag.size() >= 2 && variant.etag.back() == '"') {
    variant.etag.insert(variant.etag.size() - 1, fmt::format("-{}", coding));
  }
}

Result<std::shared_ptr<const CachedFile>> loadCachedFile(const std::string& path, bool immutable,
                                                         std::size_t max_file_bytes) {
  auto base = readCachedFile(path, immutable, max_file_bytes);
  if (!base) return Error{base.error()};
  std::shared_ptr<CachedFile> file = std::move(base.value());
  if (auto gzip = readCachedFile(path + ".gz", immutable, max_file_bytes)) {
    markAsVariant(*gzip.value(), "gzip");
    file->gzip = std::move(gzip.value());
  }
  if (auto brotli = readCachedFile(path + ".br", immutable, max_file_bytes)) {
    markAsVariant(*brotli.value(), "br");
    file->brotli = std::move(brotli.value());
  }
  return std::shared_ptr<const CachedFile>(std::move(file));
}

}  // namespace hyperion::static_files
