#pragma once
// Process-wide Ruby state (the app, frozen env keys) and the per-Ruby-thread
// request state. Both are reachable from GC-marked objects, so every VALUE
// they hold is safe from the collector (and pinned against compaction).
#include <memory>
#include <string>
#include <vector>

#include "hyperion/config/settings.hpp"
#include "hyperion/http1/response.hpp"
#include "hyperion/server/dispatch_queue.hpp"
#include "hyperion/server/exchange.hpp"
#include "hyperion/static/route_table.hpp"
#include "ruby_api.hpp"

namespace hyperion::server {
class HttpServer;
}

namespace hyperion::rb {

// Frozen, deduplicated Strings, built once: the keys and common values of
// every env, so a request allocates only what is really per request.
struct EnvKeys {
  VALUE request_method, script_name, path_info, query_string, server_name, server_port, server_protocol,
      request_uri, remote_addr, content_type, content_length, server_software, rack_input, rack_errors,
      rack_hijack_p, rack_hijack, rack_hijack_io, rack_url_scheme, rack_multithread, rack_multiprocess,
      rack_run_once, rack_version, rack_response_finished, hijack_buffered;
  VALUE http_1_1, http_1_0, empty, empty_binary, localhost;
  VALUE method_get, method_post, method_head, method_put, method_delete, method_patch, method_options;
  VALUE port_80;
};

struct RubyRuntime {
  const config::Settings* settings = nullptr;
  VALUE app = Qnil;
  bool rack3 = false;
  VALUE env_template = Qnil;
  VALUE empty_input = Qnil;  // the one rack.input of every request without a body
  EnvKeys keys{};
  VALUE keep = Qnil;  // a registered Array holding everything above (and threads)
  server::HttpServer* server = nullptr;
  server::DispatchQueue* queue = nullptr;
  static_files::RouteTable routes;          // Hyperion::Server.handle_static / handle
  std::vector<std::string> rails_public;    // auto-detected static dir, if any
};

// The one RubyRuntime of this process, created by bootRuby. C functions that
// Ruby calls (Hyperion::Server.__add_static) reach it through here.
RubyRuntime& processRuntime();

enum class BodyKind { Array, Each, Call, File };

struct ThreadState {
  RubyRuntime* rt = nullptr;
  server::DispatchQueue::Waiter waiter;
  server::DispatchQueue::PopStatus pop_status = server::DispatchQueue::PopStatus::Closed;
  VALUE thread = Qnil;
  // This thread's rack.hijack, made once and put in every env it builds. It
  // acts only while hijack_open (the current request's response is not
  // finished) and only when called on this thread (see native_objects.cpp).
  VALUE hijack_object = Qnil;

  // The request in progress; reset after each one.
  std::shared_ptr<server::Exchange> exchange;
  VALUE env = Qnil, response = Qnil, headers_value = Qnil, body = Qnil, array_body = Qnil;
  VALUE stream_object = Qnil, input = Qnil, hijack_io = Qnil, error = Qnil;
  VALUE file_path = Qnil;  // body.to_path, when the body has one
  int status = 200;
  BodyKind body_kind = BodyKind::Array;
  std::vector<http1::Header> headers;
  http1::ResponsePlan plan;
  std::string out;
  std::size_t body_bytes = 0;  // body bytes handed to the loop
  bool head_sent = false;
  bool hijacked = false;
  bool hijack_open = false;  // rack.hijack may act on `exchange`
  bool broken = false;  // response cannot be completed: close the connection
  bool keep_alive_after = true;
  std::string hijack_leftover;

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
bool streamWrite(ThreadState& ts, const char* data, std::size_t length);  // false: client gone
void waitWritableWithoutGvl(ThreadState& ts);

// thread_pool.cpp
VALUE wrapThreadState(ThreadState* ts);  // TypedData that marks and frees it

}  // namespace hyperion::rb
