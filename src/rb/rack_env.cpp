// Building the Rack env for one request (Rack 2 and Rack 3 SPEC).
#include <cctype>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "runtime.hpp"

namespace hyperion::rb {
namespace {

VALUE frozen(const char* text) {
  VALUE str = rb_enc_interned_str(text, static_cast<long>(std::strlen(text)), rb_usascii_encoding());
  return str;
}

// Env values that repeat from one request to the next (the client address,
// SERVER_NAME/SERVER_PORT, every header value such as Host, an empty
// QUERY_STRING) are interned: rb_enc_interned_str returns the existing
// frozen, deduplicated String once a value has been seen, so nothing is
// allocated; unreferenced ones are collected as usual. Binary encoding, as
// rb_str_new gave them before (Rack::Lint wants ASCII-8BIT for non-ASCII).
// They are frozen: Puma has always given apps frozen SERVER_NAME ("localhost"),
// SCRIPT_NAME and empty QUERY_STRING, and Rack, Sinatra and Rails 6.1 only
// read these values (they build new Strings from them).
//
// PATH_INFO, REQUEST_URI and a non-empty QUERY_STRING stay new, unfrozen
// Strings: middleware rewrites paths (some in place: `<<`, `force_encoding`,
// `sub!`), Rack::MockRequest deliberately builds them unfrozen, and paths
// and queries rarely repeat, so interning them would mostly fill the fstring
// table. See docs/BENCHMARKS.md, "Allocations per request".
VALUE internedValue(std::string_view value) {
  return rb_enc_interned_str(value.data(), static_cast<long>(value.size()), rb_ascii8bit_encoding());
}

VALUE methodValue(const EnvKeys& k, std::string_view method) {
  if (method == "GET") return k.method_get;
  if (method == "POST") return k.method_post;
  if (method == "HEAD") return k.method_head;
  if (method == "PUT") return k.method_put;
  if (method == "DELETE") return k.method_delete;
  if (method == "PATCH") return k.method_patch;
  if (method == "OPTIONS") return k.method_options;
  return rb_enc_interned_str(method.data(), static_cast<long>(method.size()), rb_usascii_encoding());
}

// "Content-Type" -> CONTENT_TYPE, "X-Foo" -> HTTP_X_FOO, as an interned key
// (no allocation once a name has been seen). Names with '_' are dropped, as
// nginx does: "X_Foo" would otherwise be indistinguishable from "X-Foo".
VALUE headerKey(const EnvKeys& k, std::string_view name) {
  char buffer[256];
  if (name.size() + 5 > sizeof buffer) return Qnil;
  std::size_t length = 0;
  const bool bare = (name.size() == 12 && strncasecmp(name.data(), "content-type", 12) == 0) ||
                    (name.size() == 14 && strncasecmp(name.data(), "content-length", 14) == 0);
  if (bare) return name.size() == 12 ? k.content_type : k.content_length;
  memcpy(buffer, "HTTP_", 5);
  length = 5;
  for (char c : name) {
    if (c == '_') return Qnil;
    // ASCII only: header names are tokens, and std::toupper follows the locale.
    buffer[length++] = c == '-' ? '_' : (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
  }
  return rb_enc_interned_str(buffer, static_cast<long>(length), rb_usascii_encoding());
}

void setServerNameAndPort(ThreadState& ts, VALUE env) {
  const EnvKeys& k = ts.rt->keys;
  const http1::Request& request = ts.exchange->request();
  const std::string* host = request.header("host");
  std::string_view name;
  std::string_view port;
  if (host && !host->empty()) {
    std::string_view h = *host;
    if (h.front() == '[') {  // [v6]:port
      auto close = h.find(']');
      name = h.substr(0, close == std::string_view::npos ? h.size() : close + 1);
      if (close != std::string_view::npos && close + 1 < h.size() && h[close + 1] == ':') port = h.substr(close + 2);
    } else if (auto colon = h.rfind(':'); colon != std::string_view::npos) {
      name = h.substr(0, colon);
      port = h.substr(colon + 1);
    } else {
      name = h;
    }
  }
  rb_hash_aset(env, k.server_name, name.empty() ? k.localhost : internedValue(name));
  if (!port.empty()) {
    rb_hash_aset(env, k.server_port, internedValue(port));
  } else if (host || ts.exchange->peer().local_port == 0) {
    rb_hash_aset(env, k.server_port, ts.exchange->peer().secure ? k.port_443 : k.port_80);
  } else {
    char digits[8];
    const int length = snprintf(digits, sizeof digits, "%u", static_cast<unsigned>(ts.exchange->peer().local_port));
    rb_hash_aset(env, k.server_port, internedValue({digits, static_cast<std::size_t>(length)}));
  }
}

}  // namespace

VALUE buildRackInput(ThreadState& ts) {
  static ID id_new = rb_intern("new");
  if (ts.exchange->bodyStream()) {  // it arrives while the app runs (h2 gRPC)
    ts.input = newStreamedInput(ts);
    ts.input_streamed = true;
    return ts.input;
  }
  const http1::RequestBody& body = ts.exchange->request().body;
  if (body.inFile()) {
    // The body is in an unlinked temp file: hand Ruby its own descriptor.
    int fd = ::dup(body.file.get());
    if (fd < 0) rb_sys_fail("dup request body");
    ts.input = adoptFd(ts, rb_cIO, fd, "rb");
    return ts.input;
  }
  // No body: the process's one shared, stateless empty input (no object per
  // GET). It is not ts.input, so it is never closed.
  if (body.memory.empty()) return ts.rt->empty_input;
  VALUE string_io = rb_const_get(rb_cObject, rb_intern("StringIO"));
  return rb_funcall(string_io, id_new, 1, rb_str_new(body.memory.data(), static_cast<long>(body.memory.size())));
}


void initEnvKeys(RubyRuntime& rt) {
  // Each key is stored straight into rt.keys, which the runtime's GC root
  // marks and pins: an interned String nobody else references would
  // otherwise be collected by the next allocation (and its slot reused).
  EnvKeys& k = rt.keys;
  k.request_method = frozen("REQUEST_METHOD");
  k.script_name = frozen("SCRIPT_NAME");
  k.path_info = frozen("PATH_INFO");
  k.query_string = frozen("QUERY_STRING");
  k.server_name = frozen("SERVER_NAME");
  k.server_port = frozen("SERVER_PORT");
  k.server_protocol = frozen("SERVER_PROTOCOL");
  k.request_uri = frozen("REQUEST_URI");
  k.request_path = frozen("REQUEST_PATH");
  k.remote_addr = frozen("REMOTE_ADDR");
  k.content_type = frozen("CONTENT_TYPE");
  k.content_length = frozen("CONTENT_LENGTH");
  k.server_software = frozen("SERVER_SOFTWARE");
  k.gateway_interface = frozen("GATEWAY_INTERFACE");
  k.http_version = frozen("HTTP_VERSION");
  k.rack_input = frozen("rack.input");
  k.rack_errors = frozen("rack.errors");
  k.rack_hijack_p = frozen("rack.hijack?");
  k.rack_hijack = frozen("rack.hijack");
  k.rack_hijack_io = frozen("rack.hijack_io");
  k.rack_url_scheme = frozen("rack.url_scheme");
  k.rack_multithread = frozen("rack.multithread");
  k.rack_multiprocess = frozen("rack.multiprocess");
  k.rack_run_once = frozen("rack.run_once");
  k.rack_version = frozen("rack.version");
  k.rack_response_finished = frozen("rack.response_finished");
  k.rack_after_reply = frozen("rack.after_reply");
  k.hijack_buffered = frozen("hyperion.hijack_buffered");
  k.request_trailers = frozen("hyperion.request_trailers");
  k.rack_upgrade_p = frozen("rack.upgrade?");
  k.rack_upgrade = frozen("rack.upgrade");
  k.rack_upgrade_protocol = frozen("rack.upgrade.protocol");
  k.http_1_1 = frozen("HTTP/1.1");
  k.http_1_0 = frozen("HTTP/1.0");
  k.http_2 = frozen("HTTP/2");
  k.empty = frozen("");
  k.empty_binary = rb_obj_freeze(rb_str_new("", 0));
  k.localhost = frozen("localhost");
  k.method_get = frozen("GET");
  k.method_post = frozen("POST");
  k.method_head = frozen("HEAD");
  k.method_put = frozen("PUT");
  k.method_delete = frozen("DELETE");
  k.method_patch = frozen("PATCH");
  k.method_options = frozen("OPTIONS");
  k.port_80 = frozen("80");
  k.port_443 = frozen("443");
  k.https = frozen("HTTPS");
  k.https_on = frozen("on");
  k.scheme_https = frozen("https");

  // The constant part of every env; each request starts from a copy.
  rt.env_template = rb_hash_new();
  VALUE t = rt.env_template;
  rb_hash_aset(t, k.script_name, k.empty);
  rb_hash_aset(t, k.gateway_interface, frozen("CGI/1.2"));
  rb_hash_aset(t, k.rack_url_scheme, frozen("http"));
  rb_hash_aset(t, k.rack_multithread, rt.settings->threads > 1 ? Qtrue : Qfalse);
  rb_hash_aset(t, k.rack_multiprocess, rt.settings->workers > 1 ? Qtrue : Qfalse);
  rb_hash_aset(t, k.rack_run_once, Qfalse);
  rb_hash_aset(t, k.rack_hijack_p, Qtrue);
  rb_hash_aset(t, k.server_software, frozen("hyperion/" HYPERION_VERSION));
  VALUE errors = rb_class_new_instance(0, nullptr, rb_const_get(hyperionModule(), rb_intern("ErrorLog")));
  rb_hash_aset(t, k.rack_errors, errors);
  if (!rt.rack3) {
    VALUE version = rb_ary_new_from_args(2, INT2FIX(1), INT2FIX(3));
    rb_hash_aset(t, k.rack_version, rb_obj_freeze(version));
  }
  rt.empty_input = sharedEmptyInput();
}

VALUE buildEnv(ThreadState& ts) {
  const EnvKeys& k = ts.rt->keys;
  const http1::Request& request = ts.exchange->request();
  VALUE env = rb_hash_dup(ts.rt->env_template);
  ts.env = env;
  rb_hash_aset(env, k.request_method, methodValue(k, request.method));
  std::string_view path = request.path();
  std::string_view query = request.query();
  // REQUEST_PATH is the same String as PATH_INFO, as in Puma: one object.
  VALUE path_info = rb_str_new(path.data(), static_cast<long>(path.size()));
  rb_hash_aset(env, k.path_info, path_info);
  rb_hash_aset(env, k.request_path, path_info);
  rb_hash_aset(env, k.query_string,
               query.empty() ? k.empty_binary : rb_str_new(query.data(), static_cast<long>(query.size())));
  rb_hash_aset(env, k.request_uri, rb_str_new(request.target.data(), static_cast<long>(request.target.size())));
  VALUE protocol = request.version_major == 2 ? k.http_2 : request.version_minor >= 1 ? k.http_1_1 : k.http_1_0;
  rb_hash_aset(env, k.server_protocol, protocol);
  rb_hash_aset(env, k.http_version, protocol);
  rb_hash_aset(env, k.remote_addr, internedValue(ts.exchange->peer().remote_addr));
  setServerNameAndPort(ts, env);
  const bool secure = ts.exchange->peer().secure;
  if (secure) {
    rb_hash_aset(env, k.rack_url_scheme, k.scheme_https);
    rb_hash_aset(env, k.https, k.https_on);
  }
  const bool hijackable = ts.exchange->hijackable();
  if (!hijackable) rb_hash_aset(env, k.rack_hijack_p, Qfalse);
  // A handshake the loop found valid: the app may answer it by setting
  // env['rack.upgrade'] (Iodine's and Agoo's convention).
  if (ts.exchange->webSocketOffered()) rb_hash_aset(env, k.rack_upgrade_p, ID2SYM(rb_intern("websocket")));

  const bool chunked_body = request.header("transfer-encoding") != nullptr;
  for (const http1::Header& header : request.headers) {
    // A chunked body reaches the app decoded, with its length (as Puma does).
    if (chunked_body && http1::equalsIgnoreCase(header.name, "transfer-encoding")) continue;
    VALUE key = headerKey(k, header.name);
    if (NIL_P(key)) continue;
    VALUE existing = rb_hash_lookup2(env, key, Qundef);
    if (existing != Qundef) {
      // Repeated headers are one comma-separated value (cookies use "; "),
      // interned too so that every header value is frozen alike.
      VALUE joined = rb_str_dup(existing);
      const bool cookie = header.name.size() == 6 && strncasecmp(header.name.data(), "cookie", 6) == 0;
      rb_str_cat(joined, cookie ? "; " : ", ", 2);
      rb_str_cat(joined, header.value.data(), static_cast<long>(header.value.size()));
      rb_hash_aset(env, key, rb_str_to_interned_str(joined));
    } else {
      rb_hash_aset(env, key, internedValue(header.value));
    }
  }

  if (chunked_body) {
    char digits[24];
    const int length = snprintf(digits, sizeof digits, "%zu", request.body.size);
    rb_hash_aset(env, k.content_length, rb_str_new(digits, length));
  }
  rb_hash_aset(env, k.rack_input, buildRackInput(ts));
  if (!request.trailers.empty()) {
    // Trailer fields the client sent after the body (gRPC clients may): a
    // Hash of lowercase names, repeated ones joined with ", ".
    VALUE trailers = rb_hash_new();
    rb_hash_aset(env, k.request_trailers, trailers);
    for (const http1::Header& t : request.trailers) {
      VALUE name = rb_str_new(t.name.data(), static_cast<long>(t.name.size()));
      VALUE existing = rb_hash_lookup2(trailers, name, Qundef);
      VALUE value = rb_str_new(t.value.data(), static_cast<long>(t.value.size()));
      if (existing != Qundef) {
        rb_str_cat(existing, ", ", 2);
        rb_str_append(existing, value);
      } else {
        rb_hash_aset(trailers, name, value);
      }
    }
  }
  // One rack.hijack per Ruby thread, made on its first request (see
  // hijackCall for why a shared one cannot act for another request).
  if (hijackable) {
    if (NIL_P(ts.hijack_object)) ts.hijack_object = newHijackObject(ts);
    ts.hijack_open = true;
    rb_hash_aset(env, k.rack_hijack, ts.hijack_object);
  }
  // Per-thread Arrays, emptied after every request (see ThreadState).
  if (NIL_P(ts.response_finished)) ts.response_finished = rb_ary_new();
  if (NIL_P(ts.after_reply)) ts.after_reply = rb_ary_new();
  rb_hash_aset(env, k.rack_response_finished, ts.response_finished);
  rb_hash_aset(env, k.rack_after_reply, ts.after_reply);
  return env;
}

}  // namespace hyperion::rb
