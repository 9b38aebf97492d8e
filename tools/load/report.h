// herald-load's results: what the processes measured, merged, and written as a table, JSON, a
// percentile CSV and a gnuplot plot.
#pragma once

#include <cstdint>
#include <string>

#include "core/histogram.h"
#include "core/result.h"
#include "tools/load/load_options.h"

namespace herald::load {

struct Results {
    core::Histogram latency;
    core::Histogram lateness;
    double seconds = 0;  // the measured window
    std::uint64_t conns_open = 0;
    std::uint64_t measured_sent = 0;
    std::uint64_t measured_deliveries = 0;
    std::uint64_t expected_deliveries = 0;  // all messages (warm-up included) x members
    std::uint64_t unique_deliveries = 0;
    std::uint64_t lost = 0;
    std::uint64_t duplicates = 0;
    std::uint64_t reorders = 0;
    std::uint64_t error_frames = 0;
    std::uint64_t failed_conns = 0;
    std::uint64_t closed_conns = 0;
    std::uint64_t unconfirmed = 0;
    std::uint64_t cycles = 0;
    std::uint64_t probes_sent = 0;  // confirm phase: probes of every leader
    double confirm_s = 0;           // how long the confirm phase took
    double server_cpu_s = -1;       // -1: no --server-pid
    double server_rss_before = -1;  // bytes
    double server_rss_after = -1;
    // From /proc/PID/smaps_rollup (bytes), shared pages divided among the processes mapping
    // them: Pss and its anonymous part Pss_Anon; -1 when unknown (no --server-pid, not idle,
    // unreadable).
    double server_pss_before = -1;
    double server_pss_after = -1;
    double server_anon_before = -1;
    double server_anon_after = -1;
    double load_cpu_s = 0;
    double load_busy_max = 0;  // the busiest load process: CPU / wall in the window
    std::uint32_t procs = 0;

    double deliveries_per_s() const {
        return seconds > 0 ? static_cast<double>(measured_deliveries) / seconds : 0;
    }
    double server_us_per_delivery() const {
        return server_cpu_s < 0 || measured_deliveries == 0
                   ? -1
                   : server_cpu_s * 1e6 / static_cast<double>(measured_deliveries);
    }
    double bytes_per_conn() const {
        return server_rss_after < 0 || conns_open == 0
                   ? -1
                   : (server_rss_after - server_rss_before) / static_cast<double>(conns_open);
    }
    double pss_bytes_per_conn() const {
        return growth_per_conn(server_pss_before, server_pss_after);
    }
    double anon_bytes_per_conn() const {
        return growth_per_conn(server_anon_before, server_anon_after);
    }
    // (after - before) / connections open, or -1 when either sample is unknown.
    double growth_per_conn(double before, double after) const {
        return before < 0 || after < 0 || conns_open == 0
                   ? -1
                   : (after - before) / static_cast<double>(conns_open);
    }
    bool saturated() const { return load_busy_max > 0.9; }
};

// The human table (stdout).
std::string format_table(const LoadOptions& o, const Results& r);
// One JSON object with every figure.
std::string format_json(const LoadOptions& o, const Results& r);
// "percentile,latency_us" lines of the latency spectrum.
std::string format_histogram_csv(const Results& r);
// Writes a PNG of the spectrum with gnuplot; ok, or why not (one line).
core::Status plot_histogram(const Results& r, const std::string& png, const std::string& title);

}  // namespace herald::load
