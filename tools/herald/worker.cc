#include "tools/herald/worker.h"

#include <cstdio>
#include <optional>
#include <string>

#include "net/server.h"
#include "net/stats_json.h"

namespace herald::tools {
namespace {

// The multi-worker /stats: every process's counters from shared memory, with its ring lag and
// ring drops as a reader of the others' rings; process `hub` has the role "hub".
std::string render_region_stats(const channel::ShmRegion& region, std::uint32_t hub) {
    std::vector<net::StatsEntry> entries;
    for (std::uint32_t w = 0; w < region.processes(); ++w) {
        const channel::ProcessSlot& slot = region.process(w);
        net::StatsEntry e{w, &slot.stats, {}};
        std::uint64_t drops = 0;
        std::string lag = ",\"ring_lag\":{";
        bool first = true;
        for (std::uint32_t p = 0; p < region.processes(); ++p) {
            if (p == w) continue;
            const channel::ShmRing ring = region.ring(p);
            drops += ring.reader(w).drops.load(std::memory_order_relaxed);
            lag += (first ? "\"" : ",\"") + std::to_string(p) + "\":" + std::to_string(ring.lag(w));
            first = false;
        }
        e.extra = std::string(w == hub ? ",\"role\":\"hub\"" : ",\"role\":\"worker\"") +
                  ",\"ready\":" + std::to_string(slot.ready.load(std::memory_order_relaxed)) +
                  ",\"restarts\":" + std::to_string(slot.restarts.load(std::memory_order_relaxed)) +
                  lag + "},\"ring_drops\":" + std::to_string(drops);
        entries.push_back(std::move(e));
    }
    return net::render_stats_json(entries);
}

// Links a started worker to the other processes and tells the master it is ready.
void join_region(net::Server& server, channel::ShmRelay& relay, const WorkerSeat& seat) {
    relay.attach();
    relay.announce_reset();
    server.set_relay(&relay);
    server.set_stats_renderer([&seat] { return render_region_stats(seat.region, seat.hub); });
    seat.region.process(seat.index).ready.store(1, std::memory_order_release);
}

}  // namespace

core::Status run_worker(net::ServerOptions options, const WorkerSeat* seat) {
    net::WorkerStats* stats = nullptr;
    if (seat != nullptr) {
        options.reuse_port = true;
        options.worker_id = seat->index;
        stats = &seat->region.process(seat->index).stats;
    }
    net::Server server(options, stats);
    core::Result<net::Endpoint> bound = server.start();
    if (!bound) return core::Error{bound.error()};
    std::optional<channel::ShmRelay> relay;
    if (seat != nullptr) {
        relay.emplace(seat->region, seat->index, seat->wake_fds, seat->relay);
        join_region(server, *relay, *seat);
    } else {
        std::printf("herald listening on %s://%s\n", server.tls() ? "wss" : "ws",
                    bound->to_string().c_str());
        std::fflush(stdout);
    }
    core::Status ran = server.run();
    server.set_relay(nullptr);
    return ran;
}

}  // namespace herald::tools
