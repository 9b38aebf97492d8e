#include "tools/load/report.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>

namespace herald::load {
namespace {

std::string us(std::int64_t ns) {
    char b[32];
    std::snprintf(b, sizeof b, "%.1f", static_cast<double>(ns) / 1e3);
    return b;
}

std::string fixed(double v, int digits = 2) {
    char b[48];
    std::snprintf(b, sizeof b, "%.*f", digits, v);
    return b;
}

// herald-load's results table: "  key" padded to column 34, then the value.
struct Table {
    std::string text;
    void row(const std::string& key, const std::string& value) {
        std::string k = "  " + key;
        k.resize(std::max<std::size_t>(k.size() + 1, 34), ' ');
        text += k + value + "\n";
    }
};

// The table's rows about the load itself: connections, messages, latency, loss.
void add_load_rows(Table& t, const LoadOptions& o, const Results& r) {
    const auto line = [&t](const std::string& k, const std::string& v) { t.row(k, v); };
    t.text += "herald-load " + std::string(scenario_name(o.scenario)) + " against " + o.url + "\n";
    line("connections / groups", std::to_string(r.conns_open) + " open of " +
                                     std::to_string(o.conns) + " / " + std::to_string(o.groups));
    if (o.scenario == Scenario::kLatency || o.scenario == Scenario::kThroughput) {
        line("publishers, message size",
             std::to_string(o.publishers) + ", " + std::to_string(o.size) + " B");
        line("measured window", fixed(r.seconds, 1) + " s (after " +
                                    fixed(static_cast<double>(o.warmup) / 1e9, 1) + " s warm-up)");
        line("messages sent",
             std::to_string(r.measured_sent) + " (" +
                 fixed(static_cast<double>(r.measured_sent) / std::max(r.seconds, 1e-9), 0) +
                 "/s)");
        line("deliveries",
             std::to_string(r.measured_deliveries) + " (" + fixed(r.deliveries_per_s(), 0) + "/s)");
    }
    if (o.scenario == Scenario::kChurn) {
        line("cycles", std::to_string(r.cycles) + " (" +
                           fixed(static_cast<double>(r.cycles) / std::max(r.seconds, 1e-9), 0) +
                           "/s)");
    }
    if (r.latency.count() > 0) {
        line(
            o.scenario == Scenario::kChurn ? "cycle time us p50/p90/p99" : "latency us p50/p90/p99",
            us(r.latency.percentile(50)) + " / " + us(r.latency.percentile(90)) + " / " +
                us(r.latency.percentile(99)));
        line("latency us p99.9 / max",
             us(r.latency.percentile(99.9)) + " / " + us(r.latency.max()));
    }
    if (o.scenario == Scenario::kLatency || o.scenario == Scenario::kThroughput) {
        line("lost / duplicated / reordered", std::to_string(r.lost) + " / " +
                                                  std::to_string(r.duplicates) + " / " +
                                                  std::to_string(r.reorders));
    }
}

// The table's rows about errors, the server's and the load tool's own resources.
void add_cost_rows(Table& t, const Results& r) {
    const auto line = [&t](const std::string& k, const std::string& v) { t.row(k, v); };
    line("errors", std::to_string(r.error_frames) + " error frames, " +
                       std::to_string(r.failed_conns) + " failed connects, " +
                       std::to_string(r.closed_conns) + " closed by server, " +
                       std::to_string(r.unconfirmed) + " unconfirmed members");
    line("membership confirm",
         std::to_string(r.probes_sent) + " probes in " + fixed(r.confirm_s, 2) + " s");
    if (r.server_cpu_s >= 0) {
        line("server CPU",
             fixed(r.server_cpu_s, 3) + " s" +
                 (r.server_us_per_delivery() >= 0
                      ? ", " + fixed(r.server_us_per_delivery(), 3) + " us per delivery"
                      : std::string()));
    }
    if (r.bytes_per_conn() >= 0) {
        line("server memory", fixed(r.server_rss_after / 1048576.0, 1) + " MiB RSS, " +
                                  fixed(r.bytes_per_conn(), 0) + " B per connection");
        line("server memory (PSS)",
             r.pss_bytes_per_conn() < 0
                 ? std::string("unknown (cannot read /proc/PID/smaps_rollup)")
                 : fixed(r.server_pss_after / 1048576.0, 1) + " MiB, " +
                       fixed(r.pss_bytes_per_conn(), 0) + " B per connection, " +
                       (r.anon_bytes_per_conn() < 0 ? std::string("?")
                                                    : fixed(r.anon_bytes_per_conn(), 0)) +
                       " B of it anonymous");
    }
    line("load tool", fixed(r.load_cpu_s, 2) + " s CPU in " + std::to_string(r.procs) +
                          " process(es), busiest " + fixed(100 * r.load_busy_max, 0) + "%");
    if (r.lateness.count() > 0) {
        line("sent late vs schedule us", "p50 " + us(r.lateness.percentile(50)) + ", p99 " +
                                             us(r.lateness.percentile(99)) + ", max " +
                                             us(r.lateness.max()));
    }
    if (r.saturated()) {
        t.text +=
            "  WARNING: herald-load itself was saturated (a process over 90% busy): the figures "
            "show its ceiling, not the server's\n";
    }
}

}  // namespace

std::string format_table(const LoadOptions& o, const Results& r) {
    Table t;
    add_load_rows(t, o, r);
    add_cost_rows(t, r);
    return t.text;
}

std::string format_json(const LoadOptions& o, const Results& r) {
    std::string j = "{";
    const auto num = [&](const char* k, double v) {
        if (j.size() > 1) j += ",";
        j += "\"" + std::string(k) + "\":" + (std::isfinite(v) ? fixed(v, 3) : "null");
    };
    j +=
        "\"scenario\":\"" + std::string(scenario_name(o.scenario)) + "\",\"url\":\"" + o.url + "\"";
    num("conns", o.conns);
    num("conns_open", static_cast<double>(r.conns_open));
    num("groups", o.groups);
    num("publishers", o.publishers);
    num("size", o.size);
    num("rate", o.rate);
    num("window", o.window);
    num("seconds", r.seconds);
    num("sent", static_cast<double>(r.measured_sent));
    num("deliveries", static_cast<double>(r.measured_deliveries));
    num("deliveries_per_s", r.deliveries_per_s());
    num("p50_us", static_cast<double>(r.latency.percentile(50)) / 1e3);
    num("p90_us", static_cast<double>(r.latency.percentile(90)) / 1e3);
    num("p99_us", static_cast<double>(r.latency.percentile(99)) / 1e3);
    num("p999_us", static_cast<double>(r.latency.percentile(99.9)) / 1e3);
    num("max_us", static_cast<double>(r.latency.max()) / 1e3);
    num("mean_us", r.latency.mean() / 1e3);
    num("lost", static_cast<double>(r.lost));
    num("duplicates", static_cast<double>(r.duplicates));
    num("reorders", static_cast<double>(r.reorders));
    num("error_frames", static_cast<double>(r.error_frames));
    num("failed_conns", static_cast<double>(r.failed_conns));
    num("closed_conns", static_cast<double>(r.closed_conns));
    num("unconfirmed", static_cast<double>(r.unconfirmed));
    num("cycles", static_cast<double>(r.cycles));
    num("server_cpu_s", r.server_cpu_s);
    num("server_us_per_delivery", r.server_us_per_delivery());
    num("server_rss_bytes", r.server_rss_after);
    num("server_bytes_per_conn", r.bytes_per_conn());
    num("server_pss_bytes", r.server_pss_after);
    num("server_pss_bytes_per_conn", r.pss_bytes_per_conn());
    num("server_anon_bytes", r.server_anon_after);
    num("server_anon_bytes_per_conn", r.anon_bytes_per_conn());
    num("probes_sent", static_cast<double>(r.probes_sent));
    num("confirm_s", r.confirm_s);
    num("load_cpu_s", r.load_cpu_s);
    num("load_busy_max", r.load_busy_max);
    num("late_p99_us", static_cast<double>(r.lateness.percentile(99)) / 1e3);
    j += ",\"load_saturated\":" + std::string(r.saturated() ? "true" : "false") + "}\n";
    return j;
}

std::string format_histogram_csv(const Results& r) {
    std::string s = "percentile,latency_us\n";
    for (const auto& p : r.latency.spectrum()) {
        s += fixed(p.percentile, 6) + "," + fixed(static_cast<double>(p.value) / 1e3, 3) + "\n";
    }
    return s;
}

core::Status plot_histogram(const Results& r, const std::string& png, const std::string& title) {
    char data_path[] = "/tmp/herald-load-XXXXXX";
    const int fd = mkstemp(data_path);
    if (fd < 0) return core::Error{"cannot create a temporary file for gnuplot"};
    std::string rows;
    for (const auto& p : r.latency.spectrum()) {
        if (p.percentile >= 100) continue;
        rows += fixed(1.0 / (1.0 - p.percentile / 100.0), 6) + " " +
                fixed(static_cast<double>(p.value) / 1e3, 3) + "\n";
    }
    (void)!write(fd, rows.data(), rows.size());
    close(fd);
    const std::string script =
        "set terminal pngcairo size 900,500; set output '" + png +
        "';"
        "set logscale x; set xlabel 'percentile'; set ylabel 'latency (us)'; set grid;"
        "set xtics ('0' 1, '90' 10, '99' 100, '99.9' 1000, '99.99' 10000, '99.999' 100000);"
        "set title '" +
        title + "'; plot '" + std::string(data_path) +
        "' using 1:2 with lines lw 2 title 'latency'";
    const std::string cmd = "gnuplot -e \"" + script + "\" 2>&1";
    const int rc = std::system(cmd.c_str());
    unlink(data_path);
    if (rc != 0) {
        return core::Error{"gnuplot failed (is gnuplot installed? apt-get install gnuplot-nox)"};
    }
    return {};
}

}  // namespace herald::load
