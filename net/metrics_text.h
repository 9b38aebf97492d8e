// Prometheus text exposition format 0.0.4 (prometheus.io/docs/instrumenting/exposition_formats):
// a writer of metric families, and the rendering of every worker counter for GET /metrics.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "net/stats_json.h"

namespace herald::net {

enum class MetricType : std::uint8_t { kCounter, kGauge, kHistogram };

// One label, name="value". The name must match [a-zA-Z_][a-zA-Z0-9_]*; the value is any text
// (escaped on output: backslash, double quote and newline as \\, \" and \n).
struct Label {
    std::string_view name;
    std::string_view value;
};

// Appends families to a string. Each family is one begin() followed by its samples; a family
// name appears once per output (the format forbids repeating it). Not thread-safe.
class MetricsText {
  public:
    // "# HELP <name> <help>\n# TYPE <name> <type>\n". `help` is escaped (\\ and \n).
    void begin(std::string_view name, std::string_view help, MetricType type);
    // "<name>{labels} <value>\n": a counter (name ending "_total") or gauge sample.
    void sample(std::string_view name, std::span<const Label> labels, double value);
    void sample(std::string_view name, std::span<const Label> labels, std::uint64_t value);
    // A histogram's samples for `labels`: <name>_bucket{...,le="<bound>"} for each of `bounds`
    // (ascending upper bounds) with the cumulative counts `cumulative` (same length), then
    // le="+Inf" with `count`, <name>_sum and <name>_count.
    void histogram(std::string_view name, std::span<const Label> labels,
                   std::span<const double> bounds, std::span<const std::uint64_t> cumulative,
                   double sum, std::uint64_t count);

    const std::string& text() const noexcept { return out_; }
    std::string take() { return std::move(out_); }

  private:
    void labels(std::span<const Label> labels, const Label* extra);
    std::string out_;
};

// A label value escaped for the format: \ as \\, " as \", newline as \n.
std::string escape_label_value(std::string_view value);

// Every counter of WorkerStats (net/worker_stats.h) as herald_<name> families with a
// worker="N" label per entry, from the same inputs render_stats_json() takes: gauges for
// connections, groups and memberships; herald_bytes_in_total / herald_bytes_out_total for the
// byte counts; herald_<name>_total counters for the rest; pid as herald_worker_pid (gauge).
// Ends with the family herald_handshake_duration_seconds: each worker's WorkerStats::handshake
// histogram (bounds in seconds, net/worker_stats.h).
std::string render_metrics_text(std::span<const StatsEntry> workers);

// Appends that histogram family alone to `m`.
void append_handshake_histograms(MetricsText& m, std::span<const StatsEntry> workers);

}  // namespace herald::net
