#include "net/metrics_text.h"

#include <gtest/gtest.h>

namespace herald::net {
namespace {

TEST(MetricsText, EscapesBackslashQuoteAndNewlineInLabelValues) {
    EXPECT_EQ(escape_label_value("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
    EXPECT_EQ(escape_label_value("plain"), "plain");
}

TEST(MetricsText, WritesHelpTypeAndLabelledSamples) {
    MetricsText m;
    m.begin("herald_x_total", "two\nlines \\", MetricType::kCounter);
    const Label labels[] = {{"peer", "node \"a\""}, {"worker", "0"}};
    m.sample("herald_x_total", labels, std::uint64_t{7});
    m.sample("herald_x_total", {}, 1.5);
    EXPECT_EQ(m.text(),
              "# HELP herald_x_total two\\nlines \\\\\n"
              "# TYPE herald_x_total counter\n"
              "herald_x_total{peer=\"node \\\"a\\\"\",worker=\"0\"} 7\n"
              "herald_x_total 1.5\n");
}

TEST(MetricsText, HistogramHasCumulativeBucketsInfSumAndCount) {
    MetricsText m;
    m.begin("herald_hop_seconds", "ring hop", MetricType::kHistogram);
    const Label worker[] = {{"worker", "1"}};
    const double bounds[] = {0.001, 0.01};
    const std::uint64_t cumulative[] = {3, 5};
    m.histogram("herald_hop_seconds", worker, bounds, cumulative, 0.25, 6);
    EXPECT_EQ(m.text(),
              "# HELP herald_hop_seconds ring hop\n"
              "# TYPE herald_hop_seconds histogram\n"
              "herald_hop_seconds_bucket{worker=\"1\",le=\"0.001\"} 3\n"
              "herald_hop_seconds_bucket{worker=\"1\",le=\"0.01\"} 5\n"
              "herald_hop_seconds_bucket{worker=\"1\",le=\"+Inf\"} 6\n"
              "herald_hop_seconds_sum{worker=\"1\"} 0.25\n"
              "herald_hop_seconds_count{worker=\"1\"} 6\n");
}

TEST(MetricsText, RendersEveryWorkerCounterWithWorkerLabel) {
    WorkerStats a;
    WorkerStats b;
    a.bytes_out.add(10);
    b.connections.add(3);
    const StatsEntry entries[] = {{0, &a, ""}, {1, &b, ""}};
    const std::string text = render_metrics_text(entries);
    std::size_t fields = 0;
    for_each_counter(a, [&](const char*, const core::Counter&) { ++fields; });
    std::size_t types = 0;
    for (std::size_t at = 0; (at = text.find("# TYPE ", at)) != std::string::npos; ++at) ++types;
    EXPECT_EQ(types, fields + 1);  // every counter, and the handshake histogram
    EXPECT_NE(text.find("herald_sent_bytes_total{worker=\"0\"} 10\n"), std::string::npos);
    EXPECT_NE(text.find("# TYPE herald_connections gauge\n"), std::string::npos);
    EXPECT_NE(text.find("herald_connections{worker=\"1\"} 3\n"), std::string::npos);
    EXPECT_NE(text.find("herald_upgrades_total{worker=\"1\"} 0\n"), std::string::npos);
}

TEST(MetricsText, RendersEachWorkersHandshakeHistogramInSeconds) {
    WorkerStats a;
    a.handshake.record(50 * core::kMicrosecond);  // the first bucket (<= 100 us)
    a.handshake.record(2 * core::kSecond);        // over every bound: +Inf only
    const StatsEntry entries[] = {{3, &a, ""}};
    const std::string text = render_metrics_text(entries);
    EXPECT_NE(text.find("# TYPE herald_handshake_duration_seconds histogram\n"), std::string::npos);
    EXPECT_NE(text.find("herald_handshake_duration_seconds_bucket{worker=\"3\",le=\"1\"} 1\n"),
              std::string::npos);
    EXPECT_NE(text.find("herald_handshake_duration_seconds_bucket{worker=\"3\",le=\"+Inf\"} 2\n"),
              std::string::npos);
    EXPECT_NE(text.find("herald_handshake_duration_seconds_count{worker=\"3\"} 2\n"),
              std::string::npos);
}

}  // namespace
}  // namespace herald::net
