#include "hyperion/metrics/exporter.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <memory>
#include <string>

namespace hyperion::metrics {
namespace {

using namespace std::chrono_literals;

bool has(const std::string& text, const std::string& line) { return text.find(line + "\n") != std::string::npos; }

TEST(Exporter, CountersSumWorkersAndLevelsCarryTheWorker) {
  auto a = std::make_unique<WorkerStats>();
  auto b = std::make_unique<WorkerStats>();
  a->recordRequest("GET", "/a", 200, 200us);
  b->recordRequest("GET", "/a", 200, 3ms);
  b->recordRejection(431);
  a->bytes_in.add(100);
  b->bytes_in.add(20);
  a->connections_open.set(3);
  b->connections_open.set(4);
  a->queue_time.observe(50us);
  Totals totals;
  totals.add(*a);
  totals.add(*b);
  MasterFacts facts;
  facts.workers = 2;
  facts.workers_ready = 2;
  facts.ready = true;
  facts.restarts["died"] = 1;
  const std::string text = renderPrometheus(totals, {{0, 10, 4096, a.get()}, {1, 11, 8192, b.get()}}, facts);

  EXPECT_TRUE(has(text, "# TYPE hyperion_requests_total counter")) << text;
  EXPECT_TRUE(has(text, "hyperion_requests_total{status=\"200\"} 2")) << text;
  EXPECT_TRUE(has(text, "hyperion_rejections_total{status=\"431\"} 1")) << text;
  EXPECT_TRUE(has(text, "hyperion_bytes_received_total 120")) << text;
  EXPECT_TRUE(has(text, "hyperion_connections_open{worker=\"0\"} 3")) << text;
  EXPECT_TRUE(has(text, "hyperion_connections_open{worker=\"1\"} 4")) << text;
  EXPECT_TRUE(has(text, "hyperion_worker_rss_bytes{worker=\"1\"} 8192")) << text;
  EXPECT_TRUE(has(text, "hyperion_worker_restarts_total{reason=\"died\"} 1")) << text;
  EXPECT_TRUE(has(text, "hyperion_ready 1")) << text;
  // Buckets are cumulative: 200 us is past 0.00025? no; past 0.0001 yes.
  const std::string labels = "method=\"GET\",path=\"/a\",status=\"2xx\"";
  EXPECT_TRUE(has(text, "hyperion_request_duration_seconds_bucket{" + labels + ",le=\"0.0001\"} 0")) << text;
  EXPECT_TRUE(has(text, "hyperion_request_duration_seconds_bucket{" + labels + ",le=\"0.00025\"} 1")) << text;
  EXPECT_TRUE(has(text, "hyperion_request_duration_seconds_bucket{" + labels + ",le=\"0.005\"} 2")) << text;
  EXPECT_TRUE(has(text, "hyperion_request_duration_seconds_bucket{" + labels + ",le=\"+Inf\"} 2")) << text;
  EXPECT_TRUE(has(text, "hyperion_request_duration_seconds_count{" + labels + "} 2")) << text;
  EXPECT_TRUE(has(text, "hyperion_request_duration_seconds_sum{" + labels + "} 0.0032")) << text;
  EXPECT_TRUE(has(text, "hyperion_queue_time_seconds_bucket{le=\"0.0001\"} 1")) << text;
  EXPECT_TRUE(has(text, "hyperion_queue_time_seconds_count 1")) << text;
}

TEST(Exporter, TwoProcessesOfOneIndexAddUp) {
  auto old_worker = std::make_unique<WorkerStats>();
  auto new_worker = std::make_unique<WorkerStats>();
  old_worker->connections_open.set(2);
  new_worker->connections_open.set(5);
  const std::string text =
      renderPrometheus(Totals{}, {{0, 10, 0, old_worker.get()}, {0, 11, 0, new_worker.get()}}, MasterFacts{});
  EXPECT_TRUE(has(text, "hyperion_connections_open{worker=\"0\"} 7")) << text;
}

TEST(Exporter, LabelValuesAreEscaped) {
  auto stats = std::make_unique<WorkerStats>();
  stats->recordRequest("GET", "/a\"b\\c", 200, 1ms);
  Totals totals;
  totals.add(*stats);
  const std::string text = renderPrometheus(totals, {}, MasterFacts{});
  EXPECT_NE(text.find(R"(path="/a\"b\\c")"), std::string::npos) << text;
}

TEST(Exporter, ResidentBytesOfThisProcess) {
  EXPECT_GT(residentBytes(::getpid()), 0u);
  EXPECT_EQ(residentBytes(0x7ffffff0), 0u);  // no such process
}

}  // namespace
}  // namespace hyperion::metrics
