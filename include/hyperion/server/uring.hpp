#pragma once
// One io_uring per worker loop (liburing), with a ring of provided receive
// buffers. The loop uses it in place of epoll when --io-uring allows: multishot
// accept per listener, multishot recv per connection (data lands in a provided
// buffer, no recv syscall per read), a one-shot POLLOUT only when a write hit
// EAGAIN, and one io_uring_enter per loop iteration for all of it. Writes stay
// synchronous writev/sendfile: they almost always complete at once, and the
// bytes they point at need no lifetime beyond the call.
//
// Only the loop thread touches the ring (IORING_SETUP_SINGLE_ISSUER).
#include <liburing.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "hyperion/util/result.hpp"

namespace hyperion::server {

class Uring {
 public:
  // What a completion is about: the top byte of its user_data.
  enum class Op : std::uint8_t { Mailbox = 1, Accept = 2, Recv = 3, PollOut = 4, Cancel = 5, Listen = 6 };
  static std::uint64_t tag(Op op, std::uint64_t id) { return (static_cast<std::uint64_t>(op) << 56) | id; }
  static Op opOf(std::uint64_t user_data) { return static_cast<Op>(user_data >> 56); }
  static std::uint64_t idOf(std::uint64_t user_data) { return user_data & ((1ull << 56) - 1); }

  // Sets up a ring and its buffer ring, or says why this kernel cannot
  // (io_uring disabled by sysctl or seccomp, too old for multishot recv...).
  static Result<std::unique_ptr<Uring>> create();
  ~Uring();
  Uring(const Uring&) = delete;
  Uring& operator=(const Uring&) = delete;

  void multishotAccept(int fd, std::uint64_t user_data);
  void multishotPollIn(int fd, std::uint64_t user_data);
  void multishotRecv(int fd, std::uint64_t user_data);
  void pollOut(int fd, std::uint64_t user_data);
  // One-shot POLLIN with EPOLLEXCLUSIVE: for a listening socket several
  // workers share, so a connection wakes one of them (the loop then accepts
  // with accept4 while it has capacity).
  void pollInExclusive(int fd, std::uint64_t user_data);
  void cancel(std::uint64_t user_data);  // its completion comes back as Op::Cancel

  // Submits everything queued and waits for at least one completion or the
  // timeout. Returns false on an unexpected error (errno-style code in *error).
  bool submitAndWait(std::chrono::milliseconds timeout, int* error);

  struct Completion {
    std::uint64_t user_data;
    int result;
    bool more;                   // a multishot request stays armed
    std::string_view data;       // Recv: the bytes received (a provided buffer)
  };
  // Calls `handle` for every completion ready now; provided buffers go back
  // to the kernel after `handle` returns, so `data` is only valid inside it.
  void drain(const std::function<void(const Completion&)>& handle);

  static constexpr unsigned kBufferCount = 256;       // power of two
  static constexpr std::size_t kBufferBytes = 16 * 1024;

 private:
  Uring() = default;
  io_uring_sqe* nextSqe();
  void recycle(unsigned buffer_id);

  io_uring ring_{};
  bool ring_ready_ = false;
  io_uring_buf_ring* buffer_ring_ = nullptr;
  std::size_t buffer_ring_bytes_ = 0;
  std::unique_ptr<char[]> buffers_;
  static constexpr int kBufferGroup = 0;
};

}  // namespace hyperion::server
