#include "hyperion/admin/admin_server.hpp"

#include <gtest/gtest.h>

#include <string>

namespace hyperion::admin {
namespace {

class FakeHandler final : public AdminHandler {
 public:
  std::string notReadyReason() const override { return not_ready; }
  std::string metricsText() override { return "hyperion_up 1\n"; }
  void quit() override { ++quits; }
  std::string statsJson() override { return "{}\n"; }
  Result<int> requestPhasedRestart() override {
    if (restart_running) return Error{"a phased restart is already running"};
    return ++restarts;
  }
  std::string not_ready;
  int quits = 0;
  int restarts = 0;
  bool restart_running = false;
};

http1::Request request(std::string method, std::string target, std::string authorization = {}) {
  http1::Request r;
  r.method = std::move(method);
  r.target = std::move(target);
  if (!authorization.empty()) r.headers.push_back({"authorization", std::move(authorization)});
  return r;
}

class AdminAnswers : public ::testing::Test {
 protected:
  std::unique_ptr<AdminServer> open(std::string token, std::string metrics_token) {
    config::Settings::Admin settings;
    settings.bind = "tcp://127.0.0.1:0";
    settings.token = std::move(token);
    settings.metrics_token = std::move(metrics_token);
    auto server = AdminServer::open(settings);
    EXPECT_TRUE(server.ok()) << server.error();
    return std::move(server.value());
  }
  int status(AdminServer& server, const http1::Request& r) {
    const auto reply = server.answer(r, handler_, "test");
    return std::stoi(reply.bytes.substr(9, 3));
  }
  FakeHandler handler_;
};

TEST_F(AdminAnswers, LiveAndReadyNeedNoToken) {
  auto server = open("control-secret", "");
  EXPECT_EQ(status(*server, request("GET", "/-/live")), 200);
  EXPECT_EQ(status(*server, request("GET", "/-/ready")), 200);
  handler_.not_ready = "draining";
  const auto reply = server->answer(request("GET", "/-/ready"), handler_, "test");
  EXPECT_EQ(reply.bytes.substr(9, 3), "503");
  EXPECT_NE(reply.bytes.find("not ready: draining"), std::string::npos);
  EXPECT_EQ(status(*server, request("POST", "/-/ready")), 405);
}

TEST_F(AdminAnswers, MetricsAreOpenWithoutAnyToken) {
  auto server = open("", "");
  const auto reply = server->answer(request("GET", "/-/metrics"), handler_, "test");
  EXPECT_EQ(reply.bytes.substr(9, 3), "200");
  EXPECT_NE(reply.bytes.find("Content-Type: text/plain; version=0.0.4"), std::string::npos);
  EXPECT_NE(reply.bytes.find("\r\n\r\nhyperion_up 1\n"), std::string::npos);
}

TEST_F(AdminAnswers, MetricsTakeEitherTokenAsBearerOrQuery) {
  auto server = open("control-secret", "metrics-secret");
  EXPECT_EQ(status(*server, request("GET", "/-/metrics")), 401);
  EXPECT_EQ(status(*server, request("GET", "/-/metrics", "Bearer wrong-secret")), 401);
  EXPECT_EQ(status(*server, request("GET", "/-/metrics", "Bearer metrics-secret")), 200);
  EXPECT_EQ(status(*server, request("GET", "/-/metrics", "bearer control-secret")), 200);
  EXPECT_EQ(status(*server, request("GET", "/-/metrics?token=metrics-secret")), 200);
  EXPECT_EQ(status(*server, request("GET", "/-/metrics?a=1&token=control-secret")), 200);
  EXPECT_EQ(status(*server, request("GET", "/-/metrics?token=metrics-secre")), 401);
}

TEST_F(AdminAnswers, QuitNeedsTheControlToken) {
  auto server = open("control-secret", "metrics-secret");
  EXPECT_EQ(status(*server, request("GET", "/-/quit", "Bearer control-secret")), 405);
  EXPECT_EQ(status(*server, request("POST", "/-/quit")), 401);
  EXPECT_EQ(status(*server, request("POST", "/-/quit", "Bearer metrics-secret")), 401);  // read-only
  const auto reply = server->answer(request("POST", "/-/quit", "Bearer control-secret"), handler_, "test");
  EXPECT_EQ(reply.bytes.substr(9, 3), "202");
  EXPECT_TRUE(reply.quit);
  EXPECT_EQ(handler_.quits, 0);  // the server quits once the answer is out, not before
}

TEST_F(AdminAnswers, PhasedRestartAndStatsNeedTheirTokens) {
  auto server = open("control-secret", "metrics-secret");
  EXPECT_EQ(status(*server, request("GET", "/-/stats")), 401);
  EXPECT_EQ(status(*server, request("GET", "/-/stats", "Bearer metrics-secret")), 200);
  EXPECT_EQ(status(*server, request("POST", "/-/phased-restart", "Bearer metrics-secret")), 401);
  const auto reply = server->answer(request("POST", "/-/phased-restart", "Bearer control-secret"), handler_, "t");
  EXPECT_EQ(reply.bytes.substr(9, 3), "202");
  EXPECT_NE(reply.bytes.find("{\"restart\":1}"), std::string::npos) << reply.bytes;
  handler_.restart_running = true;
  const auto busy = server->answer(request("POST", "/-/phased-restart", "Bearer control-secret"), handler_, "t");
  EXPECT_EQ(busy.bytes.substr(9, 3), "409");
  EXPECT_NE(busy.bytes.find("already running"), std::string::npos);
  EXPECT_TRUE(server->answer(request("POST", "/-/stop", "Bearer control-secret"), handler_, "t").quit);
}

TEST_F(AdminAnswers, QuitIsOffWithoutAControlToken) {
  auto server = open("", "metrics-secret");
  EXPECT_EQ(status(*server, request("POST", "/-/quit", "Bearer metrics-secret")), 403);
}

TEST_F(AdminAnswers, UnknownPathsAre404) {
  auto server = open("", "");
  EXPECT_EQ(status(*server, request("GET", "/")), 404);
  EXPECT_EQ(status(*server, request("GET", "/-/metricsx")), 404);
}

TEST(AdminOpen, TlsAndBadUrisAreRefused) {
  config::Settings::Admin settings;
  settings.bind = "ssl://127.0.0.1:0?cert=/a.pem&key=/a.key";
  auto tls = AdminServer::open(settings);
  ASSERT_FALSE(tls.ok());
  EXPECT_NE(tls.error().find("TLS is not offered"), std::string::npos);
  settings.bind = "tcp://127.0.0.1:notaport";
  EXPECT_FALSE(AdminServer::open(settings).ok());
}

}  // namespace
}  // namespace hyperion::admin
