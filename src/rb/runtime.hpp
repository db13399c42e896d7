#pragma once
// Process-wide Ruby state (the app, frozen env keys) and the per-Ruby-thread
// request state. Both are reachable from GC-marked objects, so every VALUE
// they hold is safe from the collector (and pinned against compaction).
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "hyperion/config/settings.hpp"
#include "hyperion/http1/response.hpp"
#include "hyperion/server/dispatch_queue.hpp"
#include "hyperion/server/exchange.hpp"
#include "hyperion/static/route_table.hpp"
#include "ruby_api.hpp"

namespace hyperion::websocket {
class Publisher;
}
namespace hyperion::metrics {
struct WorkerStats;
}

namespace hyperion::rb {

// Frozen, deduplicated Strings, built once: the keys and common values of
// every env, so a request allocates only what is really per request. Only
// VALUE members: the GC root marks the struct as an array of VALUEs.
struct EnvKeys {
  VALUE request_method, script_name, path_info, query_string, server_name, server_port, server_protocol,
      request_uri, request_path, remote_addr, content_type, content_length, server_software, gateway_interface,
      http_version, rack_input, rack_errors, rack_hijack_p, rack_hijack, rack_hijack_io, rack_url_scheme,
      rack_multithread, rack_multiprocess, rack_run_once, rack_version, rack_response_finished, rack_after_reply,
      hijack_buffered, request_trailers, rack_upgrade_p, rack_upgrade, rack_upgrade_protocol;
  VALUE http_1_1, http_1_0, http_2, empty, empty_binary, localhost;
  VALUE method_get, method_post, method_head, method_put, method_delete, method_patch, method_options;
  VALUE port_80, port_443, https, https_on, scheme_https;
};

// Everything Ruby-side a worker keeps for its whole life. GC rule (see
// docs/ARCHITECTURE.md, "C++ code that holds VALUEs"): every VALUE member is
// marked, and pinned against compaction, by the process's GC root object
// (runtime.cpp), which exists before the first VALUE is stored here. So a
// VALUE is safe from the moment it is assigned to a member; until then it
// must stay in a local.
struct RubyRuntime {
  const config::Settings* settings = nullptr;
  VALUE app = Qnil;
  VALUE rackup = Qnil;
  bool rack3 = false;
  bool show_exceptions = false;  // development: 500 pages name the exception
  VALUE env_template = Qnil;
  VALUE empty_input = Qnil;  // the one rack.input of every request without a body
  EnvKeys keys{};            // zero bits are Qfalse: nothing to mark until set
  std::vector<VALUE> thread_objects;  // the ThreadState wrappers (each marks its own VALUEs)
  server::DispatchQueue* queue = nullptr;  // the worker's; set before the threads start
  metrics::WorkerStats* stats = nullptr;   // the worker's metrics block; set with queue
  bool stopping = false;  // a Ruby thread that dies now is not replaced
  static_files::RouteTable routes;          // Hyperion::Server.handle_static / handle
  std::vector<std::string> rails_public;    // auto-detected static dir, if any
  // WebSocket clients with an open connection, by connection id: what keeps
  // each Hyperion::WebSocket::Client (and its handler and env) alive while
  // the loop may still send it events. A Hash, marked with the runtime.
  VALUE websocket_clients = Qnil;
  // Hyperion.on_request_start / on_request_end blocks, in registration order
  // (Arrays, marked with the runtime; request_hooks.cpp).
  VALUE request_start_hooks = Qnil, request_end_hooks = Qnil;
  websocket::Publisher* publisher = nullptr;  // Hyperion.publish; set by the worker
};

// The one RubyRuntime of this process, created (with its GC root) by
// createProcessRuntime during boot. C functions that Ruby calls
// (Hyperion::Server.__add_static) reach it through here.
RubyRuntime& processRuntime();
void createProcessRuntime();  // runtime.cpp; once, right after ruby_init

enum class BodyKind { Array, Each, Call, File };

struct ThreadState {
  RubyRuntime* rt = nullptr;
  server::DispatchQueue::Waiter waiter;
  server::DispatchQueue::PopStatus pop_status = server::DispatchQueue::PopStatus::Closed;
  std::chrono::steady_clock::time_point popped_at{};  // pop() handed it a job, GVL released
  int index = 0;  // hyperion-rb-N
  VALUE thread = Qnil;
  // This thread's rack.hijack, made once and put in every env it builds. It
  // acts only while hijack_open (the current request's response is not
  // finished) and only when called on this thread (see native_objects.cpp).
  VALUE hijack_object = Qnil;

  // The request in progress; reset after each one.
  std::shared_ptr<server::Exchange> exchange;
  VALUE env = Qnil, response = Qnil, headers_value = Qnil, body = Qnil, array_body = Qnil;
  VALUE stream_object = Qnil, input = Qnil, hijack_io = Qnil, error = Qnil;
  VALUE file_path = Qnil;         // body.to_path, when the body has one
  VALUE response_hijack = Qnil;   // a `rack.hijack` response header (partial hijack)
  // rack.response_finished and rack.after_reply: one Array each per Ruby
  // thread, put in every env and emptied after each request, so an app that
  // adds nothing costs no allocation.
  VALUE response_finished = Qnil, after_reply = Qnil;
  VALUE fd_holder = Qnil;  // adoptFd's scratch Array (one per thread)
  int status = 200;
  BodyKind body_kind = BodyKind::Array;
  http::HeaderList headers;
  http::HeaderList trailers;  // from body.trailers, sent after the body
  http::ResponseHead head;  // built from status and headers; the loop's session frames it
  bool body_wanted = true;  // false for HEAD, 1xx, 204, 304: the body is not even iterated
  std::string out;
  std::size_t body_bytes = 0;  // body bytes handed to the loop
  bool head_sent = false;
  bool hijacked = false;
  bool hijack_open = false;  // rack.hijack may act on `exchange`
  bool broken = false;  // response cannot be completed: close the connection
  std::string hijack_leftover;
  std::string input_chunk;     // a streamed rack.input's bytes on their way into a Ruby String
  bool input_streamed = false;  // `input` is a StreamedInput (detached after the request)
  std::string error_text;  // the app's exception, described, for the log and a development 500
  // When app.call began (set only when on_request_end hooks exist; reset per request).
  std::chrono::steady_clock::time_point app_started{};

  void resetRequest();
};

// rack_env.cpp
void initEnvKeys(RubyRuntime& rt);
VALUE buildEnv(ThreadState& ts);
VALUE buildRackInput(ThreadState& ts);  // rack.input for the current request

// rack_response.cpp: runs one exchange end to end. Returns a jump state to
// re-raise (Thread#kill) or 0.
int handleExchange(ThreadState& ts);

// native_objects.cpp
void defineNativeClasses(VALUE hyperion);
VALUE newHijackObject(ThreadState& ts);  // once per Ruby thread, not per request
VALUE sharedEmptyInput();                // the process's one shared rack.input for empty bodies
VALUE newStreamObject(ThreadState& ts);
void detachNativeObject(VALUE object);  // the request is over: calls now raise
// streamed_input.cpp: rack.input for a body that arrives while the app runs.
void defineStreamedInput(VALUE hyperion);
VALUE newStreamedInput(ThreadState& ts);  // detached with detachNativeObject
bool streamWrite(ThreadState& ts, const char* data, std::size_t length);  // false: client gone
void waitWritableWithoutGvl(ThreadState& ts);
// Blocks (GVL released) until every byte of the finished response is written
// to the socket, or the client is gone, or the wait is interrupted.
void waitDeliveredWithoutGvl(ThreadState& ts);
// klass.for_fd(fd[, mode]) that never leaks or double-closes fd: if Ruby
// raises, fd is closed by whoever owns it at that moment, then the error
// continues. Returns the IO, which owns fd.
VALUE adoptFd(ThreadState& ts, VALUE klass, int fd, const char* mode);
// Takes the client socket from the loop (full hijack, or partial after the
// head went out): sets ts.hijacked, ts.hijack_io, env['rack.hijack_io'].
VALUE takeClientSocket(ThreadState& ts);

// websocket.cpp: the rack.upgrade API (docs/WEBSOCKET.md).
void defineWebSocket(VALUE hyperion);
void defineWebSocketCodec(VALUE hyperion);  // websocket_codec.cpp
// The app set env['rack.upgrade'] on a handshake the loop accepted.
bool webSocketRequested(const ThreadState& ts);
// Accepts it: the 101 and the connection's switch are the loop's; the
// handler's events come back as jobs for runWebSocketEvents. Ruby calls
// inside: run under protect().
void acceptWebSocket(ThreadState& ts);
// A job for an upgraded connection: runs its queued events in order.
// Returns a jump state to re-raise (Thread#kill) or 0.
int runWebSocketEvents(ThreadState& ts);

// request_hooks.cpp: Hyperion.on_request_start { |env| } and
// Hyperion.on_request_end { |env, status, duration, error| }, run on the Ruby
// thread around app.call (Rack requests over every protocol; not the light
// Hyperion::Server.handle routes, which have no env).
void defineRequestHooks(VALUE hyperion);
bool hasRequestStartHooks(const RubyRuntime& rt);
bool hasRequestEndHooks(const RubyRuntime& rt);
void fireRequestStart(ThreadState& ts);
void fireRequestEnd(ThreadState& ts, bool failed);

// thread_pool.cpp
VALUE wrapThreadState(ThreadState* ts);  // TypedData that marks and frees it
// Creates and names ts's Ruby thread (ts->thread). Called under protect().
void spawnRubyThread(ThreadState& ts);

}  // namespace hyperion::rb
