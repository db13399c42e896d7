#include "hyperion/static/request_path.hpp"

namespace hyperion::static_files {
namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> percentDecode(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '%') {
      out.push_back(raw[i]);
      continue;
    }
    if (i + 2 >= raw.size()) return std::nullopt;  // truncated escape
    const int high = hexValue(raw[i + 1]);
    const int low = hexValue(raw[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    out.push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }
  return out;
}

}  // namespace

std::optional<NormalizedPath> normalizeRequestPath(std::string_view raw_path) {
  if (raw_path.empty() || raw_path.front() != '/') return std::nullopt;
  // Decoding once, before splitting, is what makes "%2e%2e" and "..%2f" plain
  // ".." segments below. We never decode twice: "%252e" stays a literal "%2e".
  auto decoded = percentDecode(raw_path);
  if (!decoded) return std::nullopt;
  for (unsigned char c : *decoded) {
    // Backslash is a separator on some filesystems and in some proxies' eyes;
    // control bytes (NUL above all) have no business in a file name we serve.
    if (c == '\\' || c < 0x20 || c == 0x7f) return std::nullopt;
  }

  NormalizedPath result;
  std::string_view rest = *decoded;
  while (!rest.empty()) {
    const auto slash = rest.find('/');
    const std::string_view segment = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
    if (segment.empty() || segment == ".") continue;
    if (segment == "..") return std::nullopt;
    result.key.push_back('/');
    result.key.append(segment);
  }
  if (result.key.empty()) result.key.push_back('/');  // push_back: GCC 12 warns (-Wrestrict) on = "/"
  result.trailing_slash = decoded->back() == '/';
  return result;
}

}  // namespace hyperion::static_files
