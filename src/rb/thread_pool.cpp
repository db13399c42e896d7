// The worker's Ruby threads: each waits for a request with the GVL released,
// takes the GVL to run the app, and goes back to waiting. No thread is ever
// created per request or per connection.
#include "runtime.hpp"

namespace hyperion::rb {
namespace {

void markThreadState(void* p) {
  auto* ts = static_cast<ThreadState*>(p);
  const VALUE values[] = {ts->thread, ts->env, ts->response, ts->headers_value, ts->body, ts->array_body,
                          ts->hijack_object, ts->stream_object, ts->input, ts->hijack_io, ts->error, ts->file_path};
  for (VALUE v : values) rb_gc_mark(v);  // rb_gc_mark pins: safe under GC.compact
}
void freeThreadState(void* p) { delete static_cast<ThreadState*>(p); }
std::size_t sizeThreadState(const void*) { return sizeof(ThreadState); }

const rb_data_type_t kThreadStateType = {
    "Hyperion::ThreadState", {markThreadState, freeThreadState, sizeThreadState}, nullptr, nullptr, 0};

void* popWithoutGvl(void* arg) {
  auto* ts = static_cast<ThreadState*>(arg);
  ts->pop_status = ts->rt->queue->pop(ts->waiter, ts->exchange);
  return nullptr;
}

void ubfInterruptPop(void* arg) {
  auto* ts = static_cast<ThreadState*>(arg);
  ts->rt->queue->interrupt(ts->waiter);
}

}  // namespace

VALUE wrapThreadState(ThreadState* ts) { return rb_data_typed_object_wrap(rb_cObject, ts, &kThreadStateType); }

// The body of each Ruby thread. Holds no C++ object with a destructor: Ruby
// may unwind it (Thread#kill at shutdown).
VALUE rubyThreadMain(void* arg) {
  auto* ts = static_cast<ThreadState*>(arg);
  for (;;) {
    if (ts->rt->queue->tryPop(ts->exchange)) {
      ts->pop_status = server::DispatchQueue::PopStatus::Job;
    } else {
      rb_thread_call_without_gvl(popWithoutGvl, ts, ubfInterruptPop, ts);
    }
    if (ts->pop_status == server::DispatchQueue::PopStatus::Closed) break;
    if (ts->pop_status == server::DispatchQueue::PopStatus::Interrupted) {
      rb_thread_check_ints();  // lets Thread#kill / Thread#raise land
      continue;
    }
    int jump = handleExchange(*ts);
    ts->resetRequest();
    if (jump) rb_jump_tag(jump);
  }
  return Qnil;
}

}  // namespace hyperion::rb
