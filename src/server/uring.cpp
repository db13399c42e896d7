#include "hyperion/server/uring.hpp"

#include <sys/epoll.h>

#include <poll.h>
#include <sys/mman.h>
#include <sys/utsname.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace hyperion::server {
namespace {

constexpr unsigned kQueueDepth = 1024;

// Multishot recv with provided buffers arrived in Linux 6.0; older kernels
// accept the ring but reject the recv at run time, so ask up front.
bool kernelAtLeast(int major, int minor) {
  utsname name{};
  if (::uname(&name) != 0) return false;
  int have_major = 0;
  int have_minor = 0;
  if (std::sscanf(name.release, "%d.%d", &have_major, &have_minor) != 2) return false;
  return have_major > major || (have_major == major && have_minor >= minor);
}

}  // namespace

Result<std::unique_ptr<Uring>> Uring::create() {
  if (!kernelAtLeast(6, 0)) return Error{"kernel older than 6.0 (multishot recv)"};
  std::unique_ptr<Uring> uring(new Uring());
  io_uring_params params{};
  // Completions are reaped only by this thread, when it asks: no IPIs or
  // task-work interruptions while it runs (the flags need 6.1; fall back).
  params.flags = IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SINGLE_ISSUER |
                 IORING_SETUP_DEFER_TASKRUN;
  params.cq_entries = kQueueDepth * 4;
  params.flags |= IORING_SETUP_CQSIZE;
  int rc = io_uring_queue_init_params(kQueueDepth, &uring->ring_, &params);
  if (rc == -EINVAL) {
    params = io_uring_params{};
    params.flags = IORING_SETUP_CQSIZE;
    params.cq_entries = kQueueDepth * 4;
    rc = io_uring_queue_init_params(kQueueDepth, &uring->ring_, &params);
  }
  if (rc < 0) return Error{std::string("io_uring_setup: ") + std::strerror(-rc)};
  uring->ring_ready_ = true;
  if (!(params.features & IORING_FEAT_FAST_POLL)) return Error{"kernel lacks IORING_FEAT_FAST_POLL"};

  uring->buffer_ring_bytes_ = sizeof(io_uring_buf) * kBufferCount;
  void* mapped = ::mmap(nullptr, uring->buffer_ring_bytes_, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (mapped == MAP_FAILED) return Error{std::string("mmap buffer ring: ") + std::strerror(errno)};
  uring->buffer_ring_ = static_cast<io_uring_buf_ring*>(mapped);
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<std::uint64_t>(mapped);
  reg.ring_entries = kBufferCount;
  reg.bgid = kBufferGroup;
  rc = io_uring_register_buf_ring(&uring->ring_, &reg, 0);
  if (rc < 0) return Error{std::string("io_uring_register_buf_ring: ") + std::strerror(-rc)};
  io_uring_buf_ring_init(uring->buffer_ring_);
  // Not zero-filled (make_unique would be): a page costs memory only once a
  // receive lands in it, so an idle worker does not pay 4 MiB up front.
  uring->buffers_.reset(new char[kBufferCount * kBufferBytes]);
  for (unsigned i = 0; i < kBufferCount; ++i) {
    io_uring_buf_ring_add(uring->buffer_ring_, uring->buffers_.get() + i * kBufferBytes, kBufferBytes,
                          static_cast<unsigned short>(i), io_uring_buf_ring_mask(kBufferCount), static_cast<int>(i));
  }
  io_uring_buf_ring_advance(uring->buffer_ring_, kBufferCount);
  return uring;
}

Uring::~Uring() {
  if (ring_ready_) {
    if (buffer_ring_) io_uring_unregister_buf_ring(&ring_, kBufferGroup);
    io_uring_queue_exit(&ring_);  // cancels whatever is still armed
  }
  if (buffer_ring_) ::munmap(buffer_ring_, buffer_ring_bytes_);
}

io_uring_sqe* Uring::nextSqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (!sqe) {  // submission queue full: hand it to the kernel and retry
    io_uring_submit(&ring_);
    sqe = io_uring_get_sqe(&ring_);
  }
  return sqe;  // never null after a submit with a 1024-deep queue
}

void Uring::multishotAccept(int fd, std::uint64_t user_data) {
  io_uring_sqe* sqe = nextSqe();
  io_uring_prep_multishot_accept(sqe, fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  io_uring_sqe_set_data64(sqe, user_data);
}

void Uring::multishotPollIn(int fd, std::uint64_t user_data) {
  io_uring_sqe* sqe = nextSqe();
  io_uring_prep_poll_multishot(sqe, fd, POLLIN);
  io_uring_sqe_set_data64(sqe, user_data);
}

void Uring::multishotRecv(int fd, std::uint64_t user_data) {
  io_uring_sqe* sqe = nextSqe();
  io_uring_prep_recv_multishot(sqe, fd, nullptr, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = kBufferGroup;
  io_uring_sqe_set_data64(sqe, user_data);
}

void Uring::pollOut(int fd, std::uint64_t user_data) {
  io_uring_sqe* sqe = nextSqe();
  io_uring_prep_poll_add(sqe, fd, POLLOUT);
  io_uring_sqe_set_data64(sqe, user_data);
}

void Uring::pollInExclusive(int fd, std::uint64_t user_data) {
  io_uring_sqe* sqe = nextSqe();
  io_uring_prep_poll_add(sqe, fd, POLLIN | EPOLLEXCLUSIVE);
  io_uring_sqe_set_data64(sqe, user_data);
}

void Uring::cancel(std::uint64_t user_data) {
  io_uring_sqe* sqe = nextSqe();
  io_uring_prep_cancel64(sqe, user_data, 0);
  io_uring_sqe_set_data64(sqe, tag(Op::Cancel, 0));
}

bool Uring::submitAndWait(std::chrono::milliseconds timeout, int* error) {
  __kernel_timespec ts{};
  ts.tv_sec = timeout.count() / 1000;
  ts.tv_nsec = (timeout.count() % 1000) * 1'000'000;
  io_uring_cqe* cqe = nullptr;
  int rc = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
  if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
    *error = -rc;
    return false;
  }
  return true;
}

void Uring::recycle(unsigned buffer_id) {
  io_uring_buf_ring_add(buffer_ring_, buffers_.get() + buffer_id * kBufferBytes, kBufferBytes,
                        static_cast<unsigned short>(buffer_id), io_uring_buf_ring_mask(kBufferCount), 0);
  io_uring_buf_ring_advance(buffer_ring_, 1);
}

void Uring::drain(const std::function<void(const Completion&)>& handle) {
  unsigned head;
  unsigned seen = 0;
  io_uring_cqe* cqe;
  io_uring_for_each_cqe(&ring_, head, cqe) {
    ++seen;
    Completion completion{cqe->user_data, cqe->res, (cqe->flags & IORING_CQE_F_MORE) != 0, {}};
    const bool has_buffer = (cqe->flags & IORING_CQE_F_BUFFER) != 0;
    const unsigned buffer_id = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
    if (has_buffer && cqe->res > 0)
      completion.data = std::string_view(buffers_.get() + buffer_id * kBufferBytes, static_cast<std::size_t>(cqe->res));
    handle(completion);
    if (has_buffer) recycle(buffer_id);
  }
  io_uring_cq_advance(&ring_, seen);
}

}  // namespace hyperion::server
