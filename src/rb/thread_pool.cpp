// The worker's Ruby threads: each waits for a request with the GVL released,
// takes the GVL to run the app, and goes back to waiting. No thread is ever
// created per request or per connection; one is created only to replace a
// pool thread that was killed (Thread#kill inside the app), so the pool keeps
// its size.
#include <cstdio>

#include "hyperion/log/logger.hpp"
#include "hyperion/metrics/worker_stats.hpp"
#include "runtime.hpp"

namespace hyperion::rb {
namespace {

void markThreadState(void* p) {
  auto* ts = static_cast<ThreadState*>(p);
  const VALUE values[] = {ts->thread,          ts->env,          ts->response,      ts->headers_value,
                          ts->body,            ts->array_body,   ts->hijack_object, ts->stream_object,
                          ts->input,           ts->hijack_io,    ts->error,         ts->file_path,
                          ts->response_hijack, ts->response_finished, ts->after_reply, ts->fd_holder};
  for (VALUE v : values) rb_gc_mark(v);  // rb_gc_mark pins: safe under GC.compact
}
void freeThreadState(void* p) { delete static_cast<ThreadState*>(p); }
std::size_t sizeThreadState(const void*) { return sizeof(ThreadState); }

const rb_data_type_t kThreadStateType = {
    "Hyperion::ThreadState", {markThreadState, freeThreadState, sizeThreadState}, nullptr, nullptr, 0};

// Run by rb_thread_call_without_gvl: no Ruby, and no C++ exception may leave
// (there is no GVL to raise with), hence noexcept.
void* popWithoutGvl(void* arg) noexcept {
  auto* ts = static_cast<ThreadState*>(arg);
  ts->pop_status = ts->rt->queue->pop(ts->waiter, ts->exchange);
  if (ts->pop_status == server::DispatchQueue::PopStatus::Job) ts->popped_at = std::chrono::steady_clock::now();
  return nullptr;
}

void ubfInterruptPop(void* arg) noexcept {
  auto* ts = static_cast<ThreadState*>(arg);
  ts->rt->queue->interrupt(ts->waiter);
}

VALUE rubyThreadMain(void* arg);

// Serves requests until the queue closes. Returns 0, or the jump state of a
// Thread#kill that must end this thread. Holds no C++ object with a
// destructor: every Ruby call below is inside protect().
int serveUntilClosed(ThreadState& ts) {
  metrics::WorkerStats& stats = *ts.rt->stats;
  for (;;) {
    bool waited = false;  // for the GVL too
    if (ts.rt->queue->tryPop(ts.exchange)) {
      ts.pop_status = server::DispatchQueue::PopStatus::Job;
    } else {
      waited = true;
      // The "2" variant does not check interrupts itself (a kill would unwind
      // this frame unprotected); it skips pop when one is already pending,
      // which the Interrupted branch below then delivers under protect().
      ts.pop_status = server::DispatchQueue::PopStatus::Interrupted;
      rb_thread_call_without_gvl2(popWithoutGvl, &ts, ubfInterruptPop, &ts);
    }
    if (ts.pop_status == server::DispatchQueue::PopStatus::Closed) return 0;
    if (ts.pop_status == server::DispatchQueue::PopStatus::Interrupted) {
      // Lets Thread#kill / Thread#raise land while idle. A raise is logged
      // and the thread goes on serving; a kill ends it.
      auto check = [] { rb_thread_check_ints(); };
      int state = protect(check);
      if (state == 0) continue;
      VALUE error = takeError();
      if (!isException(error)) return state;
      spdlog::warn("exception raised into idle Ruby thread hyperion-rb-{}: {}", ts.index, describeException(error));
      continue;
    }
    {
      const auto taken = std::chrono::steady_clock::now();
      if (waited) stats.gvl_wait.observe(taken - ts.popped_at);
      // A request's wait for a thread (a WebSocket event's exchange is as
      // old as its connection: not a wait).
      if (!ts.exchange->webSocket()) stats.queue_time.observe(taken - ts.exchange->startedAt());
    }
    if (ts.exchange->webSocket()) {
      // An upgraded connection with events for its handler (the request
      // that upgraded it was answered long ago).
      const int jump = runWebSocketEvents(ts);
      ts.resetRequest();
      if (jump) return jump;
      continue;
    }
    if (ts.exchange->clientGone()) {
      // The client left while the request waited for a thread (a reset h2
      // stream, a closed socket): nobody would read the answer, so the app
      // does not run. A flood of reset streams costs no Ruby time.
      spdlog::debug("request {} {} from {} dropped: the client went away before a thread took it",
                    ts.exchange->request().method, ts.exchange->request().target, ts.exchange->peer().remote_addr);
      ts.rt->queue->jobDone();
      ts.exchange->finish(false);
      ts.resetRequest();
      continue;
    }
    int jump = 0;
    try {
      jump = handleExchange(ts);
    } catch (const std::exception& e) {
      // handleExchange runs Ruby only under protect(), so this is C++ failing
      // (out of memory while framing): drop this response, keep serving.
      spdlog::error("internal error while answering a request: {}", e.what());
      ts.rt->queue->jobDone();
      ts.exchange->finish(false);
    }
    ts.resetRequest();
    if (jump) return jump;
  }
}

// The body of each Ruby thread (and of a replacement). Ruby unwinds it when
// the thread is killed, so it holds no C++ object with a destructor.
VALUE rubyThreadMain(void* arg) {
  auto* ts = static_cast<ThreadState*>(arg);
  const int jump = serveUntilClosed(*ts);
  if (jump != 0) {
    if (!ts->rt->stopping) {
      // Killed inside the app: the pool must not shrink. The new thread
      // takes over this ThreadState (its waiter, rack.hijack, index) once
      // this one is gone from it; this thread only unwinds from here.
      auto respawn = [ts] { spawnRubyThread(*ts); };
      if (protect(respawn) != 0) {
        VALUE error = takeError();
        spdlog::critical("cannot replace killed Ruby thread hyperion-rb-{}: {}", ts->index,
                         isException(error) ? describeException(error) : std::string("interrupted"));
      } else {
        spdlog::warn("Ruby thread hyperion-rb-{} replaced after being killed", ts->index);
      }
    }
    rb_jump_tag(jump);
  }
  return Qnil;
}

}  // namespace

VALUE wrapThreadState(ThreadState* ts) { return rb_data_typed_object_wrap(rb_cObject, ts, &kThreadStateType); }

void spawnRubyThread(ThreadState& ts) {
  ts.thread = rb_thread_create(rubyThreadMain, &ts);  // stored at once: markThreadState marks it
  // Thread#name= also names the native thread (top -H, perf, /proc).
  char name[32];
  snprintf(name, sizeof name, "hyperion-rb-%d", ts.index);
  rb_funcall(ts.thread, rb_intern("name="), 1, rb_str_new_cstr(name));
}

}  // namespace hyperion::rb
