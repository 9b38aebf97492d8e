#include "channel/hub_report.h"

#include <vector>

#include "net/stats_json.h"

namespace herald::channel {
namespace {

// `,"ring_lag":{...},"ring_drops":N` of process w: its lag and drops as a reader of every other
// process's ring. Sets `drops`.
std::string ring_fields(const ShmRegion& region, std::uint32_t w, std::uint64_t& drops) {
    drops = 0;
    std::string lag = ",\"ring_lag\":{";
    bool first = true;
    for (std::uint32_t p = 0; p < region.processes(); ++p) {
        if (p == w) continue;
        const ShmRing ring = region.ring(p);
        drops += ring.reader(w).drops.load(std::memory_order_relaxed);
        lag += (first ? "\"" : ",\"") + std::to_string(p) + "\":" + std::to_string(ring.lag(w));
        first = false;
    }
    return lag + "},\"ring_drops\":" + std::to_string(drops);
}

void gauge_or_counter(net::MetricsText& m, const char* name, const char* help, net::MetricType type,
                      const std::vector<net::StatsEntry>& entries,
                      const std::vector<std::uint64_t>& values) {
    m.begin(name, help, type);
    for (std::size_t i = 0; i < entries.size(); ++i) {
        const std::string worker = std::to_string(entries[i].worker);
        const net::Label label{"worker", worker};
        m.sample(name, std::span(&label, 1), values[i]);
    }
}

}  // namespace

std::string render_region_stats(const ShmRegion& region, std::uint32_t hub) {
    std::vector<net::StatsEntry> entries;
    for (std::uint32_t w = 0; w < region.processes(); ++w) {
        const ProcessSlot& slot = region.process(w);
        net::StatsEntry e{w, &slot.stats, {}};
        std::uint64_t drops = 0;
        const std::string ring = ring_fields(region, w, drops);
        e.extra = std::string(w == hub ? ",\"role\":\"hub\"" : ",\"role\":\"worker\"") +
                  ",\"ready\":" + std::to_string(slot.ready.load(std::memory_order_relaxed)) +
                  ",\"restarts\":" + std::to_string(slot.restarts.load(std::memory_order_relaxed)) +
                  ring;
        entries.push_back(std::move(e));
    }
    return net::render_stats_json(entries);
}

std::string render_region_metrics(const ShmRegion& region, std::uint32_t hub) {
    std::vector<net::StatsEntry> entries;
    std::vector<std::uint64_t> ready;
    std::vector<std::uint64_t> restarts;
    std::vector<std::uint64_t> drops;
    for (std::uint32_t w = 0; w < region.processes(); ++w) {
        if (w == hub) continue;
        const ProcessSlot& slot = region.process(w);
        entries.push_back({w, &slot.stats, {}});
        ready.push_back(slot.ready.load(std::memory_order_relaxed));
        restarts.push_back(slot.restarts.load(std::memory_order_relaxed));
        drops.emplace_back();
        (void)ring_fields(region, w, drops.back());
    }
    std::string out = net::render_metrics_text(entries);
    net::MetricsText m;
    gauge_or_counter(m, "herald_worker_ready", "1 once the worker listens", net::MetricType::kGauge,
                     entries, ready);
    gauge_or_counter(m, "herald_worker_restarts_total", "times the master restarted the worker",
                     net::MetricType::kCounter, entries, restarts);
    gauge_or_counter(m, "herald_ring_drops_total",
                     "records the worker lost as a reader of the other processes' rings",
                     net::MetricType::kCounter, entries, drops);
    return out + m.take();
}

namespace {

// The mesh's own counters (hub::MeshCounters), one metric each.
void append_mesh_counters(net::MetricsText& m, const hub::Mesh& mesh) {
    using T = net::MetricType;
    const hub::MeshCounters& c = mesh.counters();
    struct One {
        const char* name;
        const char* help;
        T type;
        std::uint64_t value;
    };
    const One all[] = {
        {"herald_hub_hello_auth_failed_total", "peer AUTH frames that did not prove the secret",
         T::kCounter, c.auth_failed},
        {"herald_hub_hello_refused_duplicate_total",
         "authenticated HELLOs refused: the node id is linked and healthy", T::kCounter,
         c.refused_duplicate},
        {"herald_hub_hello_refused_own_id_total", "authenticated HELLOs of a hub with our node id",
         T::kCounter, c.refused_own_id},
        {"herald_hub_hello_timeouts_total",
         "links closed without an authenticated HELLO within --peer-timeout", T::kCounter,
         c.hello_timeouts},
        {"herald_hub_slow_consumer_closes_total", "peer links closed over the unsent-bytes bound",
         T::kCounter, c.slow_closes},
        {"herald_hub_subscribe_refused_total", "SUBSCRIBE frames with a group id over the limit",
         T::kCounter, c.subscribe_refused},
        {"herald_hub_interest_overflows_total", "peers served every group (over the cap)",
         T::kCounter, c.interest_overflows},
        {"herald_hub_forgotten_peers_total", "unlisted peers forgotten after being down",
         T::kCounter, c.forgotten_peers},
        {"herald_hub_accept_pauses_total", "peer accepts paused at the descriptor limit",
         T::kCounter, c.accept_pauses},
        {"herald_hub_peer_interest_entries", "group entries held for the peers' subscriptions",
         T::kGauge, mesh.interest().peer_entries()},
    };
    for (const One& o : all) {
        m.begin(o.name, o.help, o.type);
        m.sample(o.name, {}, o.value);
    }
}

}  // namespace

void append_peer_metrics(net::MetricsText& m, const hub::Mesh& mesh) {
    append_mesh_counters(m, mesh);
    struct Field {
        const char* name;
        const char* help;
        net::MetricType type;
        std::uint64_t (*get)(const hub::Peer&);
    };
    using T = net::MetricType;
    static constexpr Field kFields[] = {
        {"herald_peer_up", "1 while the link to the peer is up", T::kGauge,
         [](const hub::Peer& p) -> std::uint64_t { return p.link != nullptr ? 1 : 0; }},
        {"herald_peer_unacked_bytes", "PUBLISH and LOST bytes held until the peer acknowledges",
         T::kGauge, [](const hub::Peer& p) -> std::uint64_t { return p.window.bytes(); }},
        {"herald_peer_unacked_frames", "frames held until the peer acknowledges them", T::kGauge,
         [](const hub::Peer& p) -> std::uint64_t { return p.window.held(); }},
        {"herald_peer_replayed_total", "frames replayed to the peer after a relink", T::kCounter,
         [](const hub::Peer& p) { return p.replayed; }},
        {"herald_peer_lost_sent_total", "LOST frames sent to the peer", T::kCounter,
         [](const hub::Peer& p) { return p.lost_sent; }},
        {"herald_peer_lost_received_total", "LOST frames received from the peer", T::kCounter,
         [](const hub::Peer& p) { return p.lost_received; }},
        {"herald_peer_bytes_in_total", "bytes received on the peer's links", T::kCounter,
         [](const hub::Peer& p) { return p.bytes_in; }},
        {"herald_peer_bytes_out_total", "bytes the kernel took for the peer's links", T::kCounter,
         [](const hub::Peer& p) { return p.bytes_out; }},
        {"herald_peer_frames_in_total", "frames received after the peer's HELLO", T::kCounter,
         [](const hub::Peer& p) { return p.frames_in; }},
        {"herald_peer_frames_out_total", "frames wholly written to the peer", T::kCounter,
         [](const hub::Peer& p) { return p.frames_out; }},
        {"herald_peer_publishes_in_total", "PUBLISH frames from the peer delivered here",
         T::kCounter, [](const hub::Peer& p) { return p.publishes_in; }},
        {"herald_peer_publishes_out_total", "PUBLISH frames queued for the peer", T::kCounter,
         [](const hub::Peer& p) { return p.publishes_out; }},
        {"herald_peer_drops_total", "PUBLISH frames for the peer that did not fit", T::kCounter,
         [](const hub::Peer& p) { return p.drops; }},
        {"herald_peer_gaps_total", "PUBLISH frames from the peer that never arrived", T::kCounter,
         [](const hub::Peer& p) { return p.gaps; }},
        {"herald_peer_gap_closes_total",
         "seq gaps from the peer acted on by closing every group member (1013)", T::kCounter,
         [](const hub::Peer& p) { return p.gap_closes; }},
        {"herald_peer_connects_total", "links to the peer that completed HELLO", T::kCounter,
         [](const hub::Peer& p) { return p.connects; }},
        {"herald_peer_stale_total", "frames from the peer with a seq already seen (duplicates)",
         T::kCounter, [](const hub::Peer& p) { return p.stale; }},
    };
    for (const Field& f : kFields) {
        m.begin(f.name, f.help, f.type);
        for (const auto& [node, peer] : mesh.peers()) {
            const std::string name = std::to_string(node);
            const net::Label label{"peer", name};
            m.sample(f.name, std::span(&label, 1), f.get(peer));
        }
    }
}

bool workers_ready(const ShmRegion& region, std::uint32_t hub) {
    for (std::uint32_t w = 0; w < region.processes(); ++w) {
        if (w != hub && region.process(w).ready.load(std::memory_order_acquire) == 0) return false;
    }
    return true;
}

std::string render_ready_json(const ShmRegion& region, std::uint32_t hub, const hub::Mesh* mesh) {
    std::uint32_t ready = 0;
    std::uint32_t total = 0;
    for (std::uint32_t w = 0; w < region.processes(); ++w) {
        if (w == hub) continue;
        ++total;
        if (region.process(w).ready.load(std::memory_order_acquire) != 0) ++ready;
    }
    std::string out = std::string("{\"ready\":") + (ready == total ? "true" : "false") +
                      ",\"workers\":{\"ready\":" + std::to_string(ready) +
                      ",\"total\":" + std::to_string(total) + "}";
    if (mesh != nullptr) {
        out += ",\"peers\":[";
        bool first = true;
        for (const auto& [node, peer] : mesh->peers()) {
            out += first ? "" : ",";
            first = false;
            out += "{\"node\":" + std::to_string(node) + ",\"address\":\"" + peer.address +
                   "\",\"state\":\"" + (peer.link != nullptr ? "up" : "down") + "\"}";
        }
        out += "]";
    }
    return out + "}";
}

}  // namespace herald::channel
