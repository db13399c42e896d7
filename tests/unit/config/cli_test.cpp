#include "hyperion/config/cli.hpp"
#include "hyperion/net/listener.hpp"

#include <gtest/gtest.h>

#include <cstdlib>

#include <initializer_list>
#include <vector>

using namespace hyperion::config;
using namespace std::chrono_literals;
using Keys = std::set<std::string>;

namespace {

std::variant<CliRequest, CliError> parse(std::initializer_list<const char*> args) {
  std::vector<const char*> argv{"hyperion"};
  argv.insert(argv.end(), args.begin(), args.end());
  return parseCommandLine(static_cast<int>(argv.size()), argv.data());
}

// Parses arguments that must be accepted.
CliRequest ok(std::initializer_list<const char*> args) {
  auto result = parse(args);
  if (auto* error = std::get_if<CliError>(&result)) {
    ADD_FAILURE() << "unexpected CliError: " << error->message;
    return CliRequest{};
  }
  return std::get<CliRequest>(std::move(result));
}

// Parses arguments that must be rejected; returns the message.
std::string fails(std::initializer_list<const char*> args) {
  auto result = parse(args);
  if (auto* error = std::get_if<CliError>(&result)) {
    EXPECT_FALSE(error->message.empty());
    return error->message;
  }
  ADD_FAILURE() << "expected a CliError";
  return {};
}

}  // namespace

TEST(Cli, DefaultsWithNoArguments) {
  CliRequest r = ok({});
  const Settings defaults;
  EXPECT_EQ(r.settings.rackup, "config.ru");
  EXPECT_EQ(r.settings.workers, 0);
  EXPECT_EQ(r.settings.threads, 5);
  EXPECT_TRUE(r.settings.binds.empty());
  EXPECT_EQ(r.settings.host, "127.0.0.1");
  EXPECT_EQ(r.settings.port, 9292);
  EXPECT_EQ(r.settings.environment, "development");
  EXPECT_FALSE(r.settings.config_file.has_value());
  EXPECT_FALSE(r.settings.pidfile.has_value());
  EXPECT_FALSE(r.settings.preload);
  EXPECT_TRUE(r.settings.log_requests);
  EXPECT_EQ(r.settings.limits.max_header_bytes, defaults.limits.max_header_bytes);
  EXPECT_TRUE(r.explicit_keys.empty());
  EXPECT_FALSE(r.show_help);
  EXPECT_FALSE(r.show_version);
}

TEST(Cli, WorkersAllForms) {
  for (auto args : {std::vector<const char*>{"-w", "3"}, {"-w3"}, {"--workers", "3"}, {"--workers=3"}}) {
    std::vector<const char*> argv{"hyperion"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto result = parseCommandLine(static_cast<int>(argv.size()), argv.data());
    ASSERT_TRUE(std::holds_alternative<CliRequest>(result)) << args[0];
    const auto& r = std::get<CliRequest>(result);
    EXPECT_EQ(r.settings.workers, 3) << args[0];
    EXPECT_EQ(r.explicit_keys, Keys{"workers"}) << args[0];
  }
}

TEST(Cli, WorkersOutOfRange) {
  fails({"--workers", "-1"});
  fails({"--workers", "1025"});
  fails({"--workers", "two"});
  fails({"--workers="});
}

TEST(Cli, ThreadsMinMaxTakesMax) {
  EXPECT_EQ(ok({"-t", "2:8"}).settings.threads, 8);
  EXPECT_EQ(ok({"-t2:8"}).settings.threads, 8);
  EXPECT_EQ(ok({"--threads", "4"}).settings.threads, 4);
  EXPECT_EQ(ok({"--threads=0:16"}).settings.threads, 16);
  EXPECT_EQ(ok({"--threads=3"}).explicit_keys, Keys{"threads"});
}

TEST(Cli, ThreadsInvalid) {
  fails({"--threads", "0"});
  fails({"--threads", "2:"});
  fails({"--threads", "1025"});
  fails({"-t", "x"});
}

TEST(Cli, BindRepeatable) {
  CliRequest r = ok({"-b", "tcp://0.0.0.0:3000", "--bind=unix:///tmp/h.sock", "--bind", "tcp://[::1]:3001"});
  EXPECT_EQ(r.settings.binds,
            (std::vector<std::string>{"tcp://0.0.0.0:3000", "unix:///tmp/h.sock", "tcp://[::1]:3001"}));
  EXPECT_EQ(r.explicit_keys, Keys{"bind"});
}

TEST(Cli, PortAllForms) {
  EXPECT_EQ(ok({"-p", "8080"}).settings.port, 8080);
  EXPECT_EQ(ok({"-p8081"}).settings.port, 8081);
  EXPECT_EQ(ok({"--port", "8082"}).settings.port, 8082);
  EXPECT_EQ(ok({"--port=0"}).settings.port, 0);
  EXPECT_EQ(ok({"--port=65535"}).settings.port, 65535);
  EXPECT_EQ(ok({"-p", "1"}).explicit_keys, Keys{"port"});
  fails({"--port", "65536"});
  fails({"-p", "http"});
}

TEST(Cli, Host) {
  CliRequest r = ok({"--host", "0.0.0.0"});
  EXPECT_EQ(r.settings.host, "0.0.0.0");
  EXPECT_EQ(r.explicit_keys, Keys{"host"});
  EXPECT_EQ(ok({"--host=::1"}).settings.host, "::1");
}

TEST(Cli, Environment) {
  EXPECT_EQ(ok({"-e", "production"}).settings.environment, "production");
  EXPECT_EQ(ok({"-etest"}).settings.environment, "test");
  EXPECT_EQ(ok({"--environment", "staging"}).settings.environment, "staging");
  CliRequest r = ok({"--environment=qa"});
  EXPECT_EQ(r.settings.environment, "qa");
  EXPECT_EQ(r.explicit_keys, Keys{"environment"});
}

TEST(Cli, ReusePort) {
  EXPECT_FALSE(ok({}).settings.reuse_port);
  CliRequest r = ok({"--reuse-port"});
  EXPECT_TRUE(r.settings.reuse_port);
  EXPECT_EQ(r.explicit_keys, Keys{"reuse_port"});
  Settings s;
  EXPECT_FALSE(applyConfigSetting(s, "reuse_port", "true").has_value());
  EXPECT_TRUE(s.reuse_port);
  EXPECT_TRUE(applyConfigSetting(s, "reuse_port", "yes").has_value());
}

namespace {
const char* fakeEnv(const char* name) {
  std::string key(name);
  if (key == "APP_ENV") return std::getenv("TEST_APP_ENV");
  if (key == "RACK_ENV") return std::getenv("TEST_RACK_ENV");
  if (key == "RAILS_ENV") return std::getenv("TEST_RAILS_ENV");
  return nullptr;
}
struct EnvVars {  // the fake environment above, set for one test
  EnvVars(const char* app, const char* rack, const char* rails) {
    set("TEST_APP_ENV", app);
    set("TEST_RACK_ENV", rack);
    set("TEST_RAILS_ENV", rails);
  }
  ~EnvVars() {
    ::unsetenv("TEST_APP_ENV");
    ::unsetenv("TEST_RACK_ENV");
    ::unsetenv("TEST_RAILS_ENV");
  }
  static void set(const char* name, const char* value) {
    if (value) ::setenv(name, value, 1);
    else ::unsetenv(name);
  }
};
}  // namespace

TEST(Cli, EnvironmentFollowsPumasOrder) {
  Settings plain;
  {
    EnvVars env(nullptr, nullptr, nullptr);
    EXPECT_EQ(resolveEnvironment(plain, fakeEnv), "development");
  }
  {
    EnvVars env(nullptr, nullptr, "production");
    EXPECT_EQ(resolveEnvironment(plain, fakeEnv), "production");
  }
  {
    EnvVars env(nullptr, "staging", "production");
    EXPECT_EQ(resolveEnvironment(plain, fakeEnv), "staging");
  }
  {
    EnvVars env("test", "staging", "production");
    EXPECT_EQ(resolveEnvironment(plain, fakeEnv), "test");
    EXPECT_EQ(resolveEnvironment(ok({"-e", "qa"}).settings, fakeEnv), "qa");  // -e wins
  }
  {
    EnvVars env("", nullptr, "production");  // empty counts as unset
    EXPECT_EQ(resolveEnvironment(plain, fakeEnv), "production");
  }
}

TEST(Cli, Pidfile) {
  EXPECT_EQ(ok({"-P", "/tmp/a.pid"}).settings.pidfile, "/tmp/a.pid");
  CliRequest r = ok({"--pidfile=/tmp/b.pid"});
  EXPECT_EQ(r.settings.pidfile, "/tmp/b.pid");
  EXPECT_EQ(r.explicit_keys, Keys{"pidfile"});
}

TEST(Cli, ConfigFile) {
  EXPECT_EQ(ok({"-C", "config/alt.rb"}).settings.config_file, "config/alt.rb");
  CliRequest r = ok({"--config=c.rb"});
  EXPECT_EQ(r.settings.config_file, "c.rb");
  EXPECT_EQ(r.explicit_keys, Keys{"config"});
  EXPECT_EQ(ok({"--config", "d.rb"}).settings.config_file, "d.rb");
}

TEST(Cli, Preload) {
  CliRequest r = ok({"--preload"});
  EXPECT_TRUE(r.settings.preload);
  EXPECT_EQ(r.explicit_keys, Keys{"preload_app"});
  fails({"--preload=yes"});
}

TEST(Cli, LogLevel) {
  CliRequest r = ok({"--log-level", "debug"});
  EXPECT_EQ(r.settings.log_level, "debug");
  EXPECT_EQ(r.explicit_keys, Keys{"log_level"});
  EXPECT_EQ(ok({"--log-level=warn"}).settings.log_level, "warn");
  fails({"--log-level", "loud"});
}

TEST(Cli, LogFormat) {
  CliRequest r = ok({"--log-format", "json"});
  EXPECT_EQ(r.settings.log_format, LogFormat::Json);
  EXPECT_EQ(r.explicit_keys, Keys{"log_format"});
  EXPECT_EQ(ok({"--log-format=text"}).settings.log_format, LogFormat::Text);
  fails({"--log-format", "xml"});
}

TEST(Cli, AccessLogToggles) {
  CliRequest off = ok({"--no-access-log"});
  EXPECT_FALSE(off.settings.log_requests);
  EXPECT_EQ(off.explicit_keys, Keys{"log_requests"});
  CliRequest on = ok({"--no-access-log", "--access-log"});
  EXPECT_TRUE(on.settings.log_requests);
  EXPECT_EQ(on.explicit_keys, Keys{"log_requests"});
  fails({"--access-log=false"});
}

TEST(Cli, GracefulTimeout) {
  CliRequest r = ok({"--graceful-timeout", "10s"});
  EXPECT_EQ(r.settings.graceful_timeout, 10'000ms);
  EXPECT_EQ(r.explicit_keys, Keys{"graceful_timeout"});
  EXPECT_EQ(ok({"--graceful-timeout=500ms"}).settings.graceful_timeout, 500ms);
  EXPECT_EQ(ok({"--graceful-timeout", "3"}).settings.graceful_timeout, 3'000ms);
  fails({"--graceful-timeout", "soon"});
}

TEST(Cli, TmpDir) {
  CliRequest r = ok({"--tmp-dir", "/var/tmp"});
  EXPECT_EQ(r.settings.tmp_dir, "/var/tmp");
  EXPECT_EQ(r.explicit_keys, Keys{"tmp_dir"});
  EXPECT_EQ(ok({"--tmp-dir=/scratch"}).settings.tmp_dir, "/scratch");
}

TEST(Cli, ByteLimits) {
  CliRequest r = ok({"--max-header-bytes", "32k", "--max-uri-bytes=4096", "--max-body-bytes", "10m",
                     "--body-memory-bytes=2m"});
  EXPECT_EQ(r.settings.limits.max_header_bytes, 32u * 1024);
  EXPECT_EQ(r.settings.limits.max_uri_bytes, 4096u);
  EXPECT_EQ(r.settings.limits.max_body_bytes, 10u * 1024 * 1024);
  EXPECT_EQ(r.settings.limits.body_memory_bytes, 2u * 1024 * 1024);
  EXPECT_EQ(r.explicit_keys, (Keys{"max_header_bytes", "max_uri_bytes", "max_body_bytes", "body_memory_bytes"}));
  fails({"--max-body-bytes", "0"});
  fails({"--max-header-bytes", "lots"});
}

TEST(Cli, TimeoutLimits) {
  CliRequest r = ok({"--header-timeout", "5s", "--body-timeout=250ms", "--keepalive-timeout", "2m",
                     "--write-timeout=45"});
  EXPECT_EQ(r.settings.limits.header_timeout, 5'000ms);
  EXPECT_EQ(r.settings.limits.body_timeout, 250ms);
  EXPECT_EQ(r.settings.limits.keepalive_timeout, 120'000ms);
  EXPECT_EQ(r.settings.limits.write_timeout, 45'000ms);
  EXPECT_EQ(r.explicit_keys, (Keys{"header_timeout", "body_timeout", "keepalive_timeout", "write_timeout"}));
  fails({"--header-timeout", "0"});
  fails({"--body-timeout", "fast"});
}

TEST(Cli, HelpAndVersion) {
  EXPECT_TRUE(ok({"-h"}).show_help);
  EXPECT_TRUE(ok({"--help"}).show_help);
  EXPECT_TRUE(ok({"-v"}).show_version);
  EXPECT_TRUE(ok({"--version"}).show_version);
  EXPECT_FALSE(ok({"--help"}).show_version);
  EXPECT_FALSE(usageText().empty());
}

TEST(Cli, UnknownFlagIsError) {
  EXPECT_NE(fails({"--nope"}).find("nope"), std::string::npos);
  EXPECT_NE(fails({"-x"}).find("-x"), std::string::npos);
  fails({"--nope=1"});
  fails({"-p", "80", "--turbo"});
}

TEST(Cli, MissingValueIsError) {
  EXPECT_NE(fails({"--port"}).find("port"), std::string::npos);
  fails({"-w"});
  fails({"--bind"});
  fails({"-p", "80", "--log-level"});
}

TEST(Cli, RackupPositional) {
  EXPECT_EQ(ok({"app.ru"}).settings.rackup, "app.ru");
  CliRequest r = ok({"-p", "1", "apps/site.ru", "-w", "2"});
  EXPECT_EQ(r.settings.rackup, "apps/site.ru");
  EXPECT_EQ(r.settings.port, 1);
  EXPECT_EQ(r.settings.workers, 2);
  EXPECT_EQ(r.explicit_keys, (Keys{"port", "workers"}));  // rackup is not a flag key
  fails({"a.ru", "b.ru"});
}

TEST(Cli, ExplicitKeysCollectsEveryFlagGiven) {
  CliRequest r = ok({"-w", "2", "--port=1", "--no-access-log", "--preload", "-b", "tcp://a:1", "-b", "tcp://b:2",
                     "-e", "production", "--max-body-bytes", "1m"});
  EXPECT_EQ(r.explicit_keys, (Keys{"workers", "port", "log_requests", "preload_app", "bind", "environment",
                                   "max_body_bytes"}));
}

TEST(Cli, ErrorLeavesNoPartialSuccess) {
  auto result = parse({"-w", "2", "--port", "nope"});
  ASSERT_TRUE(std::holds_alternative<CliError>(result));
  EXPECT_NE(std::get<CliError>(result).message.find("--port"), std::string::npos);
}

TEST(Duration, Forms) {
  EXPECT_EQ(parseDuration("30"), 30'000ms);
  EXPECT_EQ(parseDuration("30s"), 30'000ms);
  EXPECT_EQ(parseDuration("500ms"), 500ms);
  EXPECT_EQ(parseDuration("2m"), 120'000ms);
  EXPECT_EQ(parseDuration("0"), 0ms);
  EXPECT_EQ(parseDuration("1.5s"), 1'500ms);
  EXPECT_EQ(parseDuration("2h"), 7'200'000ms);
  EXPECT_EQ(parseDuration("1d"), 86'400'000ms);
}

TEST(Duration, Bad) {
  EXPECT_EQ(parseDuration(""), std::nullopt);
  EXPECT_EQ(parseDuration("s"), std::nullopt);
  EXPECT_EQ(parseDuration("abc"), std::nullopt);
  EXPECT_EQ(parseDuration("10w"), std::nullopt);
  EXPECT_EQ(parseDuration("-5s"), std::nullopt);
  EXPECT_EQ(parseDuration("5 s"), std::nullopt);
  EXPECT_EQ(parseDuration("5sec"), std::nullopt);
  EXPECT_EQ(parseDuration("."), std::nullopt);
}

TEST(Duration, MalformedNumberIsRejected) {
  EXPECT_EQ(parseDuration("1.2.3s"), std::nullopt);
}

TEST(ByteSize, Forms) {
  EXPECT_EQ(parseByteSize("64k"), 65'536u);
  EXPECT_EQ(parseByteSize("64K"), 65'536u);
  EXPECT_EQ(parseByteSize("1m"), 1'048'576u);
  EXPECT_EQ(parseByteSize("1M"), 1'048'576u);
  EXPECT_EQ(parseByteSize("1g"), 1'073'741'824u);
  EXPECT_EQ(parseByteSize("123"), 123u);
  EXPECT_EQ(parseByteSize("0"), 0u);
}

TEST(ByteSize, Bad) {
  EXPECT_EQ(parseByteSize(""), std::nullopt);
  EXPECT_EQ(parseByteSize("k"), std::nullopt);
  EXPECT_EQ(parseByteSize("abc"), std::nullopt);
  EXPECT_EQ(parseByteSize("12x"), std::nullopt);
  EXPECT_EQ(parseByteSize("-1"), std::nullopt);
  EXPECT_EQ(parseByteSize("1.5m"), std::nullopt);
  EXPECT_EQ(parseByteSize("64kb"), std::nullopt);
  EXPECT_EQ(parseByteSize(" 64k"), std::nullopt);
}

TEST(ByteSize, OverflowIsRejected) {
  // 2e12 GiB does not fit in 64 bits; wrapping around would give a tiny limit.
  EXPECT_EQ(parseByteSize("2000000000000g"), std::nullopt);
}

TEST(ConfigSetting, SeveralKeys) {
  Settings s;
  EXPECT_EQ(applyConfigSetting(s, "workers", "4"), std::nullopt);
  EXPECT_EQ(s.workers, 4);
  EXPECT_EQ(applyConfigSetting(s, "threads", "1:16"), std::nullopt);
  EXPECT_EQ(s.threads, 16);
  EXPECT_EQ(applyConfigSetting(s, "bind", "tcp://0.0.0.0:1"), std::nullopt);
  EXPECT_EQ(applyConfigSetting(s, "bind", "unix:///tmp/x.sock"), std::nullopt);
  EXPECT_EQ(s.binds, (std::vector<std::string>{"tcp://0.0.0.0:1", "unix:///tmp/x.sock"}));
  EXPECT_EQ(applyConfigSetting(s, "port", "3000"), std::nullopt);
  EXPECT_EQ(s.port, 3000);
  EXPECT_EQ(applyConfigSetting(s, "environment", "production"), std::nullopt);
  EXPECT_EQ(s.environment, "production");
  EXPECT_EQ(applyConfigSetting(s, "rackup", "other.ru"), std::nullopt);
  EXPECT_EQ(s.rackup, "other.ru");
  EXPECT_EQ(applyConfigSetting(s, "log_format", "json"), std::nullopt);
  EXPECT_EQ(s.log_format, LogFormat::Json);
  EXPECT_EQ(applyConfigSetting(s, "max_body_bytes", "10m"), std::nullopt);
  EXPECT_EQ(s.limits.max_body_bytes, 10u * 1024 * 1024);
  EXPECT_EQ(applyConfigSetting(s, "header_timeout", "5s"), std::nullopt);
  EXPECT_EQ(s.limits.header_timeout, 5'000ms);
  EXPECT_EQ(applyConfigSetting(s, "graceful_timeout", "15"), std::nullopt);
  EXPECT_EQ(s.graceful_timeout, 15'000ms);
  EXPECT_EQ(applyConfigSetting(s, "tmp_dir", "/var/tmp"), std::nullopt);
  EXPECT_EQ(s.tmp_dir, "/var/tmp");
}

TEST(ConfigSetting, Booleans) {
  Settings s;
  EXPECT_EQ(applyConfigSetting(s, "preload_app", "true"), std::nullopt);
  EXPECT_TRUE(s.preload);
  EXPECT_EQ(applyConfigSetting(s, "log_requests", "false"), std::nullopt);
  EXPECT_FALSE(s.log_requests);
  EXPECT_EQ(applyConfigSetting(s, "log_requests", "true"), std::nullopt);
  EXPECT_TRUE(s.log_requests);
  EXPECT_NE(applyConfigSetting(s, "preload_app", "yes"), std::nullopt);
  EXPECT_TRUE(s.preload);
}

TEST(ConfigSetting, BadValuesAreErrors) {
  Settings s;
  auto port = applyConfigSetting(s, "port", "70000");
  ASSERT_TRUE(port.has_value());
  EXPECT_NE(port->find("65535"), std::string::npos);
  EXPECT_EQ(s.port, 9292);
  EXPECT_NE(applyConfigSetting(s, "log_level", "loud"), std::nullopt);
  EXPECT_EQ(s.log_level, "info");
  EXPECT_NE(applyConfigSetting(s, "max_uri_bytes", "0"), std::nullopt);
}

TEST(ConfigSetting, UnknownKey) {
  Settings s;
  EXPECT_EQ(applyConfigSetting(s, "turbo_mode", "true"), std::string("is not a known setting"));
  // Flag spellings are not config keys.
  EXPECT_EQ(applyConfigSetting(s, "log-level", "debug"), std::string("is not a known setting"));
  EXPECT_EQ(applyConfigSetting(s, "preload", "true"), std::string("is not a known setting"));
  EXPECT_EQ(s.log_level, "info");
}

TEST(EffectiveBinds, DefaultHostAndPort) {
  Settings s;
  EXPECT_EQ(effectiveBinds(s), std::vector<std::string>{"tcp://127.0.0.1:9292"});
}

TEST(EffectiveBinds, HostAndPortChanged) {
  Settings s;
  s.host = "0.0.0.0";
  s.port = 8080;
  EXPECT_EQ(effectiveBinds(s), std::vector<std::string>{"tcp://0.0.0.0:8080"});
}

TEST(EffectiveBinds, BindsWinOverHostAndPort) {
  Settings s;
  s.host = "0.0.0.0";
  s.port = 8080;
  s.binds = {"unix:///tmp/a.sock", "tcp://127.0.0.1:1"};
  EXPECT_EQ(effectiveBinds(s), (std::vector<std::string>{"unix:///tmp/a.sock", "tcp://127.0.0.1:1"}));
}

TEST(Cli, IoUringModes) {
  EXPECT_EQ(ok({}).settings.io_uring, IoUringMode::Auto);
  EXPECT_EQ(ok({"--io-uring", "auto"}).settings.io_uring, IoUringMode::Auto);
  EXPECT_EQ(ok({"--io-uring", "on"}).settings.io_uring, IoUringMode::On);
  EXPECT_EQ(ok({"--io-uring=off"}).settings.io_uring, IoUringMode::Off);
  EXPECT_NE(fails({"--io-uring", "sometimes"}).find("expects auto, on or off"), std::string::npos);
}

TEST(Cli, KtlsModes) {
  EXPECT_FALSE(ok({}).settings.tls.ktls.has_value());  // unset: the environment, then auto, decide
  EXPECT_EQ(ok({"--tls-ktls", "auto"}).settings.tls.ktls, hyperion::config::KtlsMode::Auto);
  EXPECT_EQ(ok({"--tls-ktls=on"}).settings.tls.ktls, hyperion::config::KtlsMode::On);
  EXPECT_EQ(ok({"--tls-ktls", "off"}).settings.tls.ktls, hyperion::config::KtlsMode::Off);
  EXPECT_NE(fails({"--tls-ktls", "maybe"}).find("expects auto, on or off"), std::string::npos);
  Settings s;
  EXPECT_FALSE(applyConfigSetting(s, "tls_ktls", "off").has_value());
  EXPECT_EQ(s.tls.ktls, hyperion::config::KtlsMode::Off);
  EXPECT_FALSE(hyperion::config::parseKtlsMode("").has_value());
}

TEST(EffectiveBinds, TlsCertMakesTheDefaultBindTls) {
  Settings s = ok({"--tls-cert", "/etc/ssl/a b.pem", "--tls-key", "/etc/ssl/a.key", "-p", "8443"}).settings;
  EXPECT_EQ(effectiveBinds(s), std::vector<std::string>{"ssl://127.0.0.1:8443?cert=/etc/ssl/a%20b.pem&key=/etc/ssl/a.key"});
  auto parsed = hyperion::net::parseBindUri(effectiveBinds(s).front());
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  EXPECT_EQ(parsed->tls_options.cert, "/etc/ssl/a b.pem");
}

TEST(EffectiveBinds, SslBindsTakeTheTlsValuesTheyDoNotName) {
  Settings s = ok({"--tls-cert", "c.pem", "--tls-key", "k.pem", "--tls-verify-mode", "peer", "--tls-ca", "ca.pem",
                   "-b", "ssl://0.0.0.0:443", "-b", "ssl://0.0.0.0:8443?cert=other.pem&key=other.key", "-b",
                   "tcp://0.0.0.0:80"})
                   .settings;
  EXPECT_EQ(effectiveBinds(s),
            (std::vector<std::string>{"ssl://0.0.0.0:443?cert=c.pem&key=k.pem&ca=ca.pem&verify_mode=peer",
                                      "ssl://0.0.0.0:8443?cert=other.pem&key=other.key&ca=ca.pem&verify_mode=peer",
                                      "tcp://0.0.0.0:80"}));
}

TEST(Cli, TlsFlagsAndConfigKeys) {
  EXPECT_NE(fails({"--tls-verify-mode", "always"}).find("none, peer or force_peer"), std::string::npos);
  Settings s;
  EXPECT_EQ(applyConfigSetting(s, "tls_cert", "/c.pem"), std::nullopt);
  EXPECT_EQ(applyConfigSetting(s, "tls_key", "/k.pem"), std::nullopt);
  EXPECT_EQ(applyConfigSetting(s, "tls_ciphers", "ECDHE-RSA-AES128-GCM-SHA256"), std::nullopt);
  EXPECT_NE(applyConfigSetting(s, "tls_verify_mode", "sometimes"), std::nullopt);
  EXPECT_EQ(s.tls.cert, "/c.pem");
  EXPECT_EQ(s.tls.key, "/k.pem");
  EXPECT_EQ(s.tls.ciphers, "ECDHE-RSA-AES128-GCM-SHA256");
}

TEST(Cli, TlsHandshakeLimits) {
  Settings s = ok({"--tls-handshake-timeout", "3s", "--tls-handshake-rate-limit", "200"}).settings;
  EXPECT_EQ(s.limits.tls_handshake_timeout, 3000ms);
  EXPECT_EQ(s.tls.handshake_rate_limit, 200);
  EXPECT_EQ(ok({"--tls-handshake-rate-limit", "unlimited"}).settings.tls.handshake_rate_limit, 0);
  EXPECT_EQ(Settings{}.tls.handshake_rate_limit, 0);
  EXPECT_EQ(Settings{}.limits.tls_handshake_timeout, 10'000ms);
  fails({"--tls-handshake-rate-limit", "0"});
  fails({"--tls-handshake-rate-limit", "lots"});
}

TEST(Cli, TlsSessionResumption) {
  Settings s = ok({"--tls-session-cache-size", "5000", "--tls-ticket-key-rotation", "2h"}).settings;
  EXPECT_EQ(s.tls.session_cache_size, 5000);
  EXPECT_EQ(s.tls.ticket_key_rotation, std::chrono::seconds(7200));
  EXPECT_EQ(ok({"--tls-session-cache-size", "off"}).settings.tls.session_cache_size, 0);
  EXPECT_EQ(Settings{}.tls.session_cache_size, -1);  // OpenSSL's own default
  EXPECT_EQ(Settings{}.tls.ticket_key_rotation, std::chrono::seconds(3600));
  fails({"--tls-ticket-key-rotation", "5s"});  // shorter than a minute: tickets would barely outlive a page load
  fails({"--tls-ticket-key-rotation", "30d"});
  fails({"--tls-session-cache-size", "-1"});
}

TEST(Cli, TlsSniCertificates) {
  Settings s = ok({"--tls-sni", "api.example.com=/c/api.pem,/k/api.key", "--tls-sni", "*.w.test=a.pem,b.key"}).settings;
  ASSERT_EQ(s.tls.sni.size(), 2u);
  EXPECT_EQ(s.tls.sni[0].host, "api.example.com");
  EXPECT_EQ(s.tls.sni[0].cert, "/c/api.pem");
  EXPECT_EQ(s.tls.sni[0].key, "/k/api.key");
  EXPECT_EQ(s.tls.sni[1].host, "*.w.test");
  fails({"--tls-sni", "api.example.com"});
  fails({"--tls-sni", "=a.pem,b.key"});
  fails({"--tls-sni", "h=a.pem,"});
  fails({"--tls-sni", "h=,b.key"});
}
