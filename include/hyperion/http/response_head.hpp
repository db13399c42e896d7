#pragma once
// A response as the app gave it, before any protocol frames it: what a Ruby
// thread hands the loop. The connection's session turns it into wire bytes
// (HTTP/1.1: status line, Content-Length or chunked, Connection, Date,
// Server; HTTP/2 would make a HEADERS frame), so the Ruby side knows no
// protocol.
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>

namespace hyperion::http {

struct Header {
  std::string name;  // as given
  std::string value;
};

struct HeaderView {
  std::string_view name;
  std::string_view value;
};

// A response's header fields packed into one buffer. A head is built on a
// Ruby thread and freed on the loop thread: one allocation crossing threads,
// not two per header (freeing dozens of another thread's small blocks costs
// glibc's arena lock on every request; 25 headers measured 12 % slower).
class HeaderList {
 public:
  HeaderList() = default;
  HeaderList(std::initializer_list<HeaderView> headers) {
    for (const HeaderView& h : headers) add(h.name, h.value);
  }

  void add(std::string_view name, std::string_view value) {
    appendLength(name.size());
    appendLength(value.size());
    bytes_.append(name).append(value);
    ++count_;
  }
  void reserve(std::size_t bytes) { bytes_.reserve(bytes); }
  void clear() {
    bytes_.clear();
    count_ = 0;
  }
  bool empty() const { return count_ == 0; }
  std::size_t size() const { return count_; }

  class Iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = HeaderView;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = HeaderView;

    Iterator() = default;
    explicit Iterator(const char* at) : at_(at) {}
    HeaderView operator*() const {
      const std::uint32_t name_size = readLength(at_);
      const std::uint32_t value_size = readLength(at_ + kLengthSize);
      const char* name = at_ + 2 * kLengthSize;
      return {{name, name_size}, {name + name_size, value_size}};
    }
    Iterator& operator++() {
      at_ += 2 * kLengthSize + readLength(at_) + readLength(at_ + kLengthSize);
      return *this;
    }
    Iterator operator++(int) {
      Iterator before = *this;
      ++*this;
      return before;
    }
    friend bool operator==(const Iterator& a, const Iterator& b) { return a.at_ == b.at_; }
    friend bool operator!=(const Iterator& a, const Iterator& b) { return a.at_ != b.at_; }

   private:
    const char* at_ = nullptr;
  };
  Iterator begin() const { return Iterator(bytes_.data()); }
  Iterator end() const { return Iterator(bytes_.data() + bytes_.size()); }

 private:
  // Each field: its name's and its value's length (4 bytes each, native
  // order), then the name and the value.
  static constexpr std::size_t kLengthSize = sizeof(std::uint32_t);
  static std::uint32_t readLength(const char* at) {
    std::uint32_t n;
    std::memcpy(&n, at, kLengthSize);
    return n;
  }
  void appendLength(std::size_t size) {
    const auto n = static_cast<std::uint32_t>(size);
    bytes_.append(reinterpret_cast<const char*>(&n), kLengthSize);
  }

  std::string bytes_;
  std::size_t count_ = 0;
};

struct ResponseHead {
  int status = 200;
  HeaderList headers;  // validated; Rack-internal (rack.*) ones already dropped
  // The whole body's size when it is in hand (an Array body, a file): it
  // wins over a Content-Length the app declared.
  std::optional<std::uint64_t> body_length;
  // The server itself ends the connection after this response (an error it
  // answers for the app).
  bool close = false;
  // Rack partial hijack: the app writes the body on the raw socket, so the
  // headers go out as given (a 101 keeps its Connection/Upgrade) and nothing
  // is framed or written after them.
  bool raw = false;
};

// Whether a response to `is_head_request` with `status` carries body bytes
// at all, in any protocol (HEAD, 1xx, 204, 304 do not).
inline bool responseHasBody(int status, bool is_head_request) {
  return !is_head_request && status >= 200 && status != 204 && status != 304;
}

}  // namespace hyperion::http
