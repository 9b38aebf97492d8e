#include "net/metrics_text.h"

#include <array>
#include <charconv>
#include <cstdio>
#include <string_view>
#include <vector>

namespace herald::net {
namespace {

// The shortest text that reads back as `v` (0.00025, not 0.00025000000000000001).
void append_value(std::string& out, double v) {
    char buf[32];
    const bool fixed = v > -1e15 && v < 1e15;  // 0.0001, not 1e-04
    const auto [end, ec] = fixed ? std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed)
                                 : std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, ec == std::errc() ? end : buf);
}

const char* type_name(MetricType type) {
    switch (type) {
        case MetricType::kCounter:
            return "counter";
        case MetricType::kGauge:
            return "gauge";
        case MetricType::kHistogram:
            return "histogram";
    }
    return "untyped";
}

// How one WorkerStats field is exposed: name (herald_ prefix, unit suffix, _total for counters)
// and type.
struct Exposed {
    std::string name;
    MetricType type;
};

Exposed exposed(std::string_view field) {
    if (field == "pid") return {"herald_worker_pid", MetricType::kGauge};
    if (field == "connections" || field == "groups" || field == "memberships") {
        return {"herald_" + std::string(field), MetricType::kGauge};
    }
    if (field == "bytes_in") return {"herald_received_bytes_total", MetricType::kCounter};
    if (field == "bytes_out") return {"herald_sent_bytes_total", MetricType::kCounter};
    // Prometheus names carry base units: nanoseconds go out as seconds.
    if (field == "backpressure_ns") {
        return {"herald_backpressure_seconds_total", MetricType::kCounter};
    }
    return {"herald_" + std::string(field) + "_total", MetricType::kCounter};
}

}  // namespace

std::string escape_label_value(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    for (const char c : value) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '"') {
            out += "\\\"";
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
    return out;
}

void MetricsText::begin(std::string_view name, std::string_view help, MetricType type) {
    out_.append("# HELP ").append(name).append(" ");
    for (const char c : help) {
        if (c == '\\') {
            out_ += "\\\\";
        } else if (c == '\n') {
            out_ += "\\n";
        } else {
            out_ += c;
        }
    }
    out_.append("\n# TYPE ").append(name).append(" ").append(type_name(type)).append("\n");
}

void MetricsText::labels(std::span<const Label> list, const Label* extra) {
    if (list.empty() && extra == nullptr) return;
    out_ += '{';
    bool first = true;
    const auto one = [&](const Label& l) {
        if (!first) out_ += ',';
        first = false;
        out_.append(l.name).append("=\"").append(escape_label_value(l.value)).append("\"");
    };
    for (const Label& l : list) one(l);
    if (extra != nullptr) one(*extra);
    out_ += '}';
}

void MetricsText::sample(std::string_view name, std::span<const Label> list, double value) {
    out_.append(name);
    labels(list, nullptr);
    out_ += ' ';
    append_value(out_, value);
    out_ += '\n';
}

void MetricsText::sample(std::string_view name, std::span<const Label> list, std::uint64_t value) {
    out_.append(name);
    labels(list, nullptr);
    out_.append(" ").append(std::to_string(value)).append("\n");
}

void MetricsText::histogram(std::string_view name, std::span<const Label> list,
                            std::span<const double> bounds,
                            std::span<const std::uint64_t> cumulative, double sum,
                            std::uint64_t count) {
    const std::string bucket = std::string(name) + "_bucket";
    for (std::size_t i = 0; i < bounds.size() && i < cumulative.size(); ++i) {
        std::string le;
        append_value(le, bounds[i]);
        const Label extra{"le", le};
        out_.append(bucket);
        labels(list, &extra);
        out_.append(" ").append(std::to_string(cumulative[i])).append("\n");
    }
    const Label inf{"le", "+Inf"};
    out_.append(bucket);
    labels(list, &inf);
    out_.append(" ").append(std::to_string(count)).append("\n");
    sample(std::string(name) + "_sum", list, sum);
    sample(std::string(name) + "_count", list, count);
}

void append_handshake_histograms(MetricsText& m, std::span<const StatsEntry> workers) {
    constexpr std::size_t kBounds = DurationHistogram::kBounds;
    std::array<double, kBounds> bounds{};
    for (std::size_t i = 0; i < kBounds; ++i) {
        bounds[i] = static_cast<double>(DurationHistogram::kBoundsNs[i]) / 1e9;
    }
    m.begin("herald_handshake_duration_seconds",
            "WebSocket handshake time, accept to 101 queued, per worker", MetricType::kHistogram);
    for (const StatsEntry& w : workers) {
        const DurationHistogram& h = w.stats->handshake;
        std::array<std::uint64_t, kBounds> cumulative{};
        std::uint64_t count = 0;
        for (std::size_t i = 0; i < kBounds; ++i) {
            count += h.buckets[i].get();
            cumulative[i] = count;
        }
        count += h.buckets[kBounds].get();
        const std::string worker = std::to_string(w.worker);
        const Label label{"worker", worker};
        m.histogram("herald_handshake_duration_seconds", std::span(&label, 1), bounds, cumulative,
                    static_cast<double>(h.sum_ns.get()) / 1e9, count);
    }
}

std::string render_metrics_text(std::span<const StatsEntry> workers) {
    std::vector<const char*> fields;
    std::vector<std::uint64_t> values;  // values[w * fields + f]
    for (const StatsEntry& w : workers) {
        for_each_counter(*w.stats, [&](const char* field, const core::Counter& c) {
            if (&w == workers.data()) fields.push_back(field);
            values.push_back(c.get());
        });
    }
    MetricsText m;
    for (std::size_t f = 0; f < fields.size(); ++f) {
        const Exposed as = exposed(fields[f]);
        m.begin(as.name, std::string("WorkerStats.") + fields[f] + ", see docs/OPERATIONS.md",
                as.type);
        for (std::size_t w = 0; w < workers.size(); ++w) {
            const std::string worker = std::to_string(workers[w].worker);
            const Label label{"worker", worker};
            const std::uint64_t v = values[w * fields.size() + f];
            if (std::string_view(fields[f]).ends_with("_ns")) {
                m.sample(as.name, std::span(&label, 1), static_cast<double>(v) / 1e9);
            } else {
                m.sample(as.name, std::span(&label, 1), v);
            }
        }
    }
    append_handshake_histograms(m, workers);
    return m.take();
}

}  // namespace herald::net
