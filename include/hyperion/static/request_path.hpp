#pragma once
// From a raw request path to a key inside a static directory, refusing
// anything that could name a file outside it.
#include <optional>
#include <string>
#include <string_view>

namespace hyperion::static_files {

struct NormalizedPath {
  std::string key;              // "/" or "/a/b.css": decoded, no empty, "." or ".." segments
  bool trailing_slash = false;  // the client asked for a directory ("/docs/", "/")
};

// Percent-decodes, then splits on '/': empty segments ("//") and "." vanish.
// nullopt (reject) for a ".." segment however it was spelled ("..", "%2e%2E",
// "..%2f"), a backslash, a NUL or other control byte, a malformed %-escape, or
// a path that does not start with '/'.
std::optional<NormalizedPath> normalizeRequestPath(std::string_view raw_path);

}  // namespace hyperion::static_files
