#include "hyperion/http1/request.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>

namespace hyperion::http1 {

bool RequestBody::append(const char* data, std::size_t length, std::size_t memory_limit, const std::string& tmp_dir) {
  if (!inFile() && memory.size() + length > memory_limit) {
    file.reset(::open(tmp_dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
    if (!file) return false;
    if (::write(file.get(), memory.data(), memory.size()) != static_cast<ssize_t>(memory.size())) return false;
    std::string().swap(memory);
  }
  if (inFile()) {
    while (length > 0) {
      ssize_t n = ::write(file.get(), data, length);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      data += n;
      length -= static_cast<std::size_t>(n);
      size += static_cast<std::size_t>(n);
    }
    return true;
  }
  memory.append(data, length);
  size += length;
  return true;
}

void RequestBody::rewind() {
  if (inFile()) ::lseek(file.get(), 0, SEEK_SET);
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

static std::string_view originForm(std::string_view target) {
  // Absolute-form (GET http://host/path) carries the path after the authority.
  if (auto scheme = target.find("://"); scheme != std::string_view::npos && target[0] != '/') {
    auto slash = target.find('/', scheme + 3);
    if (slash == std::string_view::npos) {
      auto q = target.find('?', scheme + 3);
      return q == std::string_view::npos ? std::string_view("/") : target.substr(q);  // "?q": path() gives "/"
    }
    return target.substr(slash);
  }
  return target;
}

std::string_view Request::path() const {
  std::string_view origin = originForm(target);
  auto cut = origin.find_first_of("?#");
  std::string_view path = cut == std::string_view::npos ? origin : origin.substr(0, cut);
  // Absolute-form with no path ("http://h?q") means the root.
  if (path.empty() && origin.data() != target.data()) return "/";
  return path;
}

std::string_view Request::query() const {
  std::string_view origin = originForm(target);
  auto q = origin.find('?');
  if (q == std::string_view::npos) return {};
  std::string_view rest = origin.substr(q + 1);
  auto fragment = rest.find('#');
  return fragment == std::string_view::npos ? rest : rest.substr(0, fragment);
}

const std::string* Request::header(std::string_view name) const {
  for (const auto& h : headers) {
    if (equalsIgnoreCase(h.name, name)) return &h.value;
  }
  return nullptr;
}

}  // namespace hyperion::http1
