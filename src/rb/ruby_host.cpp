// Booting the VM, reading the config file, loading the app, forking through
// Ruby, and the AppHost the process layer drives.
#include "hyperion/rb/ruby_host.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <clocale>

#include "hyperion/log/logger.hpp"
#include "hyperion/net/listener.hpp"
#include "hyperion/proc/pidfile.hpp"
#include "hyperion/rb/embedded_ruby.hpp"
#include "hyperion/server/dispatch_queue.hpp"
#include "runtime.hpp"

namespace hyperion::rb {

namespace {

ID id(const char* name) { return rb_intern(name); }

// The Hyperion module. Modules and classes made with rb_define_module /
// rb_define_class_under are VM roots, marked and pinned, so a static copy of
// the VALUE stays valid.
VALUE g_hyperion = Qnil;

VALUE bootModule() { return rb_const_get(g_hyperion, id("Boot")); }

// Runs fn; on error fills message with error text. Never lets Ruby unwind.
template <typename Fn>
bool rubyCall(Fn fn, std::string& message, const char* what) {
  int state = protect(fn);
  if (state == 0) return true;
  VALUE error = takeError();
  message = isException(error) ? describeException(error) : std::string(what) + " was interrupted";
  return false;
}

class RubyHost final : public proc::AppHost {
 public:
  explicit RubyHost(const config::Settings& settings) : rt_(processRuntime()), owner_pid_(::getpid()) {
    rt_.settings = &settings;
    rt_.show_exceptions = settings.environment == "development";
  }

  const static_files::RouteTable& routes() const override { return rt_.routes; }
  std::vector<std::string> detectedStaticDirs() const override { return rt_.rails_public; }

  Result<bool> loadApp() override {
    std::string error;
    VALUE public_dir = Qnil;
    auto load = [&] {
      rt_.rackup = rb_str_new_cstr(rt_.settings->rackup.c_str());
      rt_.app = rb_funcall(bootModule(), id("load_app"), 1, rt_.rackup);
      rt_.rack3 = RTEST(rb_funcall(bootModule(), id("rack3?"), 0));
      public_dir = rb_funcall(bootModule(), id("rails_public_dir"), 0);
    };
    int state = protect(load);
    VALUE rackup = rt_.rackup;
    if (state == 0 && RB_TYPE_P(public_dir, T_STRING)) rt_.rails_public.push_back(toStdString(public_dir));
    RB_GC_GUARD(public_dir);
    if (state != 0) {
      VALUE err = takeError();
      if (!isException(err)) return Error{"loading was interrupted"};
      auto describe = [&] {
        VALUE text = rb_funcall(bootModule(), id("describe_error"), 2, err, rackup);
        error = toStdString(text);
      };
      if (protect(describe) != 0) {
        takeError();
        error = describeException(err);
      }
      return Error{error};
    }
    auto keys = [&] { initEnvKeys(rt_); };
    if (!rubyCall(keys, error, "env setup")) return Error{error};
    return true;
  }

  bool appLoaded() const override { return !NIL_P(rt_.app); }

  void runHook(proc::Hook hook, int worker_index) override {
    const char* name = hook == proc::Hook::BeforeFork     ? "before_fork"
                       : hook == proc::Hook::OnWorkerBoot ? "on_worker_boot"
                                                          : "on_worker_shutdown";
    std::string error;
    auto run = [&] {
      VALUE config = rb_funcall(g_hyperion, id("config"), 0);
      if (NIL_P(config)) return;
      if (worker_index < 0) rb_funcall(config, id("run_hook"), 1, ID2SYM(rb_intern(name)));
      else rb_funcall(config, id("run_hook"), 2, ID2SYM(rb_intern(name)), INT2NUM(worker_index));
    };
    if (!rubyCall(run, error, name)) spdlog::error("{} hook failed: {}", name, error);
  }

  pid_t forkProcess() override {
    pid_t pid = -1;
    std::string error;
    auto fork = [&] {
      VALUE result = rb_funcall(rb_mProcess, id("fork"), 0);
      pid = NIL_P(result) ? 0 : NUM2INT(result);
    };
    if (!rubyCall(fork, error, "fork")) {
      spdlog::error("fork failed: {}", error);
      return -1;
    }
    return pid;
  }

  void withoutGvl(const std::function<void()>& fn) override {
    rb_thread_call_without_gvl(
        [](void* p) -> void* {
          (*static_cast<const std::function<void()>*>(p))();
          return nullptr;
        },
        const_cast<std::function<void()>*>(&fn), nullptr, nullptr);
  }

  void setPublisher(websocket::Publisher* publisher) override { rt_.publisher = publisher; }

  void startRubyThreads(int count, server::DispatchQueue& queue, metrics::WorkerStats& stats) override {
    rt_.queue = &queue;
    rt_.stats = &stats;
    queue.setThreads(static_cast<std::size_t>(count));
    rt_.thread_objects.reserve(static_cast<std::size_t>(count));
    threads_.reserve(static_cast<std::size_t>(count));
    for (int i = 0; i < count; ++i) {
      auto* ts = new ThreadState();
      ts->rt = &rt_;
      ts->index = i;
      // The wrapper marks ts's VALUEs and frees it; the runtime root marks
      // the wrapper. Both pushes are plain C++ (capacity reserved above), so
      // no allocation can run between creating the wrapper and rooting it.
      rt_.thread_objects.push_back(wrapThreadState(ts));
      threads_.push_back(ts);
      std::string error;
      auto spawn = [ts] { spawnRubyThread(*ts); };
      if (!rubyCall(spawn, error, "starting a Ruby thread")) spdlog::error("cannot start Ruby thread {}: {}", i, error);
    }
  }

  void stopRubyThreads(std::chrono::milliseconds grace) override {
    rt_.stopping = true;  // a thread that ends now is not replaced
    const double seconds = static_cast<double>(grace.count()) / 1000.0;
    std::string error;
    // Join within the grace period, then interrupt every thread still inside
    // the app at once (as Thread#kill does: ensure blocks run), then give them
    // one second together, not one second each.
    auto stop = [&] {
      for (ThreadState* ts : threads_) {
        if (!NIL_P(ts->thread)) rb_funcall(ts->thread, id("join"), 1, DBL2NUM(seconds));
      }
      for (ThreadState* ts : threads_) {
        if (NIL_P(ts->thread) || !RTEST(rb_funcall(ts->thread, id("alive?"), 0))) continue;
        if (ts->exchange) ts->exchange->interruptWaits();
        rb_funcall(ts->thread, id("kill"), 0);
      }
      for (ThreadState* ts : threads_) {
        if (!NIL_P(ts->thread)) rb_funcall(ts->thread, id("join"), 1, DBL2NUM(1.0));
      }
    };
    if (!rubyCall(stop, error, "stopping Ruby threads")) spdlog::warn("Ruby threads ended with: {}", error);
    threads_.clear();
  }

  [[noreturn]] void exitProcess(int status) override {
    if (::getpid() == owner_pid_) {
      // The process that bound and wrote them cleans up its pidfile and socket files.
      if (rt_.settings->pidfile) proc::releasePidfile(*rt_.settings->pidfile);
      for (const auto& uri : config::effectiveBinds(*rt_.settings)) {
        auto address = net::parseBindUri(uri);
        if (address && address->kind == net::BindAddress::Kind::Unix) ::unlink(address->path.c_str());
      }
    }
    // at_exit blocks and finalizers run here: apps flush logs and close pools.
    // ruby_cleanup's argument is a jump state, not an exit status: pass 0.
    int rc = ruby_cleanup(0);
    ::_exit(status != 0 ? status : rc);
  }

 private:
  RubyRuntime& rt_;
  std::vector<ThreadState*> threads_;
  pid_t owner_pid_;
};

}  // namespace

VALUE hyperionModule() { return g_hyperion; }

VALUE takeError() {
  VALUE error = rb_errinfo();
  rb_set_errinfo(Qnil);
  return error;
}

bool isException(VALUE error) { return !NIL_P(error) && RTEST(rb_obj_is_kind_of(error, rb_eException)); }

std::string describeException(VALUE error) {
  std::string text = "unknown error";
  auto describe = [&] {
    VALUE str = rb_funcall(rb_const_get(g_hyperion, id("Boot")), id("describe_exception"), 1, error);
    text = toStdString(str);
  };
  if (protect(describe) != 0) rb_set_errinfo(Qnil);
  return text;
}

Result<bool> bootRuby(int argc, char** argv, void* stack_marker) {
  // As the `ruby` command does first thing: without it the locale charmap is
  // "ANSI_X3.4-1968", so Encoding.default_external is US-ASCII whatever LANG
  // says, and the first UTF-8 source file fails to load. ruby_options below
  // then applies -E / RUBYOPT on top, exactly as `ruby` would.
  std::setlocale(LC_CTYPE, "");
  ruby_sysinit(&argc, &argv);
  ruby_init_stack(static_cast<VALUE*>(stack_marker));
  ruby_init();
  // ruby_options loads RubyGems and honours RUBYOPT (how `bundle exec` injects
  // -rbundler/setup); the "-e ''" program itself is never run.
  static char arg0[] = "hyperion", arg1[] = "-e", arg2[] = "";
  static char* options[] = {arg0, arg1, arg2, nullptr};
  ruby_options(3, options);
  ruby_script("hyperion");

  createProcessRuntime();  // the GC root exists before any VALUE is stored in it
  g_hyperion = rb_define_module("Hyperion");
  rb_define_const(g_hyperion, "VERSION", rb_obj_freeze(rb_str_new_cstr(HYPERION_VERSION)));
  defineNativeClasses(g_hyperion);
  defineStreamedInput(g_hyperion);
  defineWebSocket(g_hyperion);
  defineWebSocketCodec(g_hyperion);
  defineRequestHooks(g_hyperion);
  std::string error;
  for (const EmbeddedRubyFile* file = kEmbeddedRubyFiles; file->path; ++file) {
    const std::string shown_path = std::string("<hyperion>/") + file->path;
    auto eval = [&] {
      VALUE binding = rb_const_get(rb_cObject, id("TOPLEVEL_BINDING"));
      VALUE filename = rb_str_new_cstr(shown_path.c_str());
      rb_funcall(rb_mKernel, id("eval"), 4, rb_str_new_cstr(file->source), binding, filename, INT2FIX(1));
    };
    if (!rubyCall(eval, error, file->path)) return Error{std::string("loading ") + file->path + ": " + error};
  }
  auto stdio = [] { rb_funcall(rb_const_get(g_hyperion, id("Boot")), id("setup_stdio"), 0); };
  if (!rubyCall(stdio, error, "setup_stdio")) return Error{error};
  return true;
}

std::string rubyDescription() {
  VALUE description = rb_const_get(rb_cObject, id("RUBY_DESCRIPTION"));
  return toStdString(description);
}

Result<bool> applyConfigFile(config::CliRequest& request) {
  config::Settings& settings = request.settings;
  std::string path;
  if (settings.config_file) {
    path = *settings.config_file;
    struct stat st{};
    if (::stat(path.c_str(), &st) != 0) return Error{"config file " + path + " not found"};
  } else {
    struct stat st{};
    if (::stat("config/hyperion.rb", &st) == 0) path = "config/hyperion.rb";
  }
  std::vector<std::pair<std::string, std::string>> values;
  std::vector<std::string> binds;
  std::vector<config::PreloadDir> preload;
  std::vector<std::string> sni;
  std::string error;
  VALUE config_class = rb_const_get(g_hyperion, id("Config"));
  auto load = [&] {
    VALUE config = path.empty() ? rb_class_new_instance(0, nullptr, config_class)
                                : rb_funcall(config_class, id("load"), 1, rb_str_new_cstr(path.c_str()));
    rb_funcall(g_hyperion, id("config="), 1, config);
    VALUE pairs = rb_funcall(rb_funcall(config, id("settings"), 0), id("to_a"), 0);
    for (long i = 0; i < RARRAY_LEN(pairs); ++i) {
      VALUE pair = RARRAY_AREF(pairs, i);
      VALUE key = RARRAY_AREF(pair, 0);
      VALUE value = RARRAY_AREF(pair, 1);
      values.emplace_back(toStdString(key), toStdString(value));
    }
    VALUE bind_list = rb_funcall(config, id("binds"), 0);
    for (long i = 0; i < RARRAY_LEN(bind_list); ++i) binds.push_back(toStdString(RARRAY_AREF(bind_list, i)));
    VALUE sni_list = rb_funcall(config, id("sni"), 0);
    for (long i = 0; i < RARRAY_LEN(sni_list); ++i) sni.push_back(toStdString(RARRAY_AREF(sni_list, i)));
    VALUE dirs = rb_funcall(config, id("preload_static"), 0);
    for (long i = 0; i < RARRAY_LEN(dirs); ++i) {
      VALUE entry = RARRAY_AREF(dirs, i);
      preload.push_back(config::PreloadDir{toStdString(RARRAY_AREF(entry, 0)),
                                           toStdString(RARRAY_AREF(entry, 1)) == "true"});
    }
  };
  int state = protect(load);
  if (state != 0) {
    VALUE err = takeError();
    if (!isException(err)) return Error{"reading " + path + " was interrupted"};
    auto describe = [&] {
      error = toStdString(rb_funcall(bootModule(), id("describe_error"), 2, err, rb_str_new_cstr(path.c_str())));
    };
    if (protect(describe) != 0) {
      takeError();
      error = describeException(err);
    }
    return Error{error};
  }
  for (const auto& [key, value] : values) {
    if (request.explicit_keys.count(key)) continue;  // the command line wins
    if (auto problem = config::applyConfigSetting(settings, key, value)) return Error{path + ": " + key + " " + *problem};
  }
  if (!binds.empty() && !request.explicit_keys.count("bind")) settings.binds = binds;
  if (!preload.empty() && !request.explicit_keys.count("preload_static")) settings.preload_static = preload;
  if (!request.explicit_keys.count("tls_sni")) {
    for (const auto& entry : sni) {
      if (auto problem = config::applyConfigSetting(settings, "tls_sni", entry)) return Error{path + ": sni " + *problem};
    }
  }
  return true;
}

std::unique_ptr<proc::AppHost> makeRubyHost(const config::Settings& settings) {
  return std::make_unique<RubyHost>(settings);
}

}  // namespace hyperion::rb
