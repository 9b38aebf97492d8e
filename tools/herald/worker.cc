#include "tools/herald/worker.h"

#include <cstdio>
#include <optional>
#include <string>

#include "channel/hub_report.h"
#include "net/server.h"

namespace herald::tools {
namespace {

// Links a started worker to the other processes and tells the master it is ready.
void join_region(net::Server& server, channel::ShmRelay& relay, const WorkerSeat& seat) {
    relay.attach();
    relay.announce_reset();
    server.set_relay(&relay);
    server.set_stats_renderer(
        [&seat] { return channel::render_region_stats(seat.region, seat.hub); });
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
        std::printf("herald listening on ws://%s\n", bound->to_string().c_str());
        std::fflush(stdout);
    }
    core::Status ran = server.run();
    server.set_relay(nullptr);
    return ran;
}

}  // namespace herald::tools
