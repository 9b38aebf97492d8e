// Prints a /metrics body rendered from two workers' counters plus a histogram, for
// `promtool check metrics` (tests/CMakeLists.txt: the promtool_check_metrics test).
#include <cstdio>

#include "net/metrics_text.h"

int main() {
    using namespace herald::net;
    WorkerStats a;
    WorkerStats b;
    a.pid.set(100);
    b.pid.set(101);
    a.connections.set(5);
    b.bytes_out.add(123456);
    const StatsEntry entries[] = {{0, &a, ""}, {1, &b, ""}};
    std::string text = render_metrics_text(entries);
    MetricsText m;
    m.begin("herald_handshake_seconds", "WebSocket handshake time, \"accept\" to 101",
            MetricType::kHistogram);
    const double bounds[] = {0.0001, 0.001, 0.01, 0.1};
    const std::uint64_t cumulative[] = {1, 4, 9, 9};
    const Label worker[] = {{"worker", "0"}};
    m.histogram("herald_handshake_seconds", worker, bounds, cumulative, 0.042, 10);
    m.begin("herald_peer_up", "1 when the cluster link is up", MetricType::kGauge);
    const Label peer[] = {{"peer", "node \"b\"\\x"}};
    m.sample("herald_peer_up", peer, std::uint64_t{1});
    text += m.text();
    std::fwrite(text.data(), 1, text.size(), stdout);
    return 0;
}
