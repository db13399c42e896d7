// Booting the VM, reading the config file, loading the app, forking through
// Ruby, and the AppHost the process layer drives.
#include "hyperion/rb/ruby_host.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include "hyperion/log/logger.hpp"
#include "hyperion/net/listener.hpp"
#include "hyperion/rb/embedded_ruby.hpp"
#include "hyperion/server/http_server.hpp"
#include "runtime.hpp"

namespace hyperion::rb {

VALUE rubyThreadMain(void* arg);  // thread_pool.cpp

namespace {

ID id(const char* name) { return rb_intern(name); }

VALUE g_hyperion = Qnil;  // the Hyperion module: a constant, so GC-safe
RubyRuntime* g_runtime = nullptr;  // created by bootRuby, lives as long as the process

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
  }

  const static_files::RouteTable& routes() const override { return rt_.routes; }
  std::vector<std::string> detectedStaticDirs() const override { return rt_.rails_public; }

  Result<bool> loadApp() override {
    std::string error;
    VALUE rackup = rb_str_new_cstr(rt_.settings->rackup.c_str());
    rb_ary_push(rt_.keep, rackup);
    auto load = [&] {
      rt_.app = rb_funcall(bootModule(), id("load_app"), 1, rackup);
      rb_ary_push(rt_.keep, rt_.app);
      rt_.rack3 = RTEST(rb_funcall(bootModule(), id("rack3?"), 0));
      VALUE public_dir = rb_funcall(bootModule(), id("rails_public_dir"), 0);
      // Last statement: no Ruby call follows the C++ temporary.
      if (RB_TYPE_P(public_dir, T_STRING)) rt_.rails_public.push_back(toStdString(public_dir));
    };
    int state = protect(load);
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

  void startRubyThreads(int count, server::DispatchQueue& queue, server::HttpServer& server) override {
    rt_.queue = &queue;
    rt_.server = &server;
    for (int i = 0; i < count; ++i) {
      auto* ts = new ThreadState();
      ts->rt = &rt_;
      rb_ary_push(rt_.keep, wrapThreadState(ts));  // marks and eventually frees it
      ts->thread = rb_thread_create(rubyThreadMain, ts);
      // Thread#name= also names the native thread (top -H, perf, /proc).
      const std::string name = "hyperion-rb-" + std::to_string(i);
      rb_funcall(ts->thread, rb_intern("name="), 1, rb_str_new(name.data(), static_cast<long>(name.size())));
      threads_.push_back(ts);
    }
  }

  void stopRubyThreads(std::chrono::milliseconds grace) override {
    for (ThreadState* ts : threads_) {
      std::string error;
      double seconds = static_cast<double>(grace.count()) / 1000.0;
      auto join = [&] {
        if (NIL_P(rb_funcall(ts->thread, id("join"), 1, DBL2NUM(seconds)))) {
          // Still inside the app after the grace period: stop it.
          if (ts->exchange) ts->exchange->interruptWaits();
          rb_funcall(ts->thread, id("kill"), 0);
          rb_funcall(ts->thread, id("join"), 1, DBL2NUM(1.0));
        }
      };
      if (!rubyCall(join, error, "join")) spdlog::warn("Ruby thread ended with: {}", error);
    }
    threads_.clear();
  }

  [[noreturn]] void exitProcess(int status) override {
    if (::getpid() == owner_pid_) {
      // The process that bound and wrote them cleans up its pidfile and socket files.
      if (rt_.settings->pidfile) ::unlink(rt_.settings->pidfile->c_str());
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

RubyRuntime& processRuntime() { return *g_runtime; }

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
  ruby_sysinit(&argc, &argv);
  ruby_init_stack(static_cast<VALUE*>(stack_marker));
  ruby_init();
  // ruby_options loads RubyGems and honours RUBYOPT (how `bundle exec` injects
  // -rbundler/setup); the "-e ''" program itself is never run.
  static char arg0[] = "hyperion", arg1[] = "-e", arg2[] = "";
  static char* options[] = {arg0, arg1, arg2, nullptr};
  ruby_options(3, options);
  ruby_script("hyperion");

  g_runtime = new RubyRuntime();  // never freed: Ruby may call into it until exit
  g_runtime->keep = rb_ary_new();
  rb_gc_register_mark_object(g_runtime->keep);
  g_hyperion = rb_define_module("Hyperion");
  rb_define_const(g_hyperion, "VERSION", rb_obj_freeze(rb_str_new_cstr(HYPERION_VERSION)));
  defineNativeClasses(g_hyperion);
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
  return true;
}

std::unique_ptr<proc::AppHost> makeRubyHost(const config::Settings& settings) {
  return std::make_unique<RubyHost>(settings);
}

}  // namespace hyperion::rb
