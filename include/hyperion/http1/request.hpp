#pragma once
// A fully read HTTP request, handed from the event loop to a Ruby thread.
// Plain data: no sockets, no Ruby.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "hyperion/http/response_head.hpp"
#include "hyperion/net/unique_fd.hpp"

namespace hyperion::http1 {

using Header = http::Header;  // request headers keep the name as the client sent it

// Small bodies stay in memory; larger ones are in an unlinked temp file.
struct RequestBody {
  std::string memory;
  net::UniqueFd file;
  std::size_t size = 0;
  bool inFile() const { return file.valid(); }
  // Adds body bytes; past memory_limit the body moves to an unlinked temp
  // file in tmp_dir, so memory per request stays bounded. False (errno set)
  // when the file cannot be made or written.
  bool append(const char* data, std::size_t length, std::size_t memory_limit, const std::string& tmp_dir);
  // The body is complete: a file body is read from its start.
  void rewind();
};

struct Request {
  std::string method;
  std::string target;  // raw request-target, e.g. /a/b?x=1
  int version_major = 1;
  int version_minor = 1;
  std::vector<Header> headers;
  std::vector<Header> trailers;  // fields sent after the body (HTTP/2); env hyperion.request_trailers
  RequestBody body;
  bool keep_alive = true;
  bool upgrade = false;  // Upgrade/CONNECT: bytes after it belong to the new protocol

  std::string_view path() const;   // target without the query, absolute-form stripped
  std::string_view query() const;  // after '?', without it
  const std::string* header(std::string_view name) const;  // case-insensitive, first match
  std::string protocol() const {
    return version_major >= 2 ? "HTTP/" + std::to_string(version_major)
                              : "HTTP/" + std::to_string(version_major) + "." + std::to_string(version_minor);
  }
  bool isHead() const { return method == "HEAD"; }
};

bool equalsIgnoreCase(std::string_view a, std::string_view b);

}  // namespace hyperion::http1
