#include "tools/herald/worker.h"

#include <systemd/sd-daemon.h>

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

// SIGHUP in a worker: the options read again, the live limits applied to `server`.
void reload_worker(net::Server& server, Reloader& reloader, bool single) {
    if (single) notify_systemd_reloading();
    if (const HeraldOptions* fresh =
            reloader.reload(single ? ReloadLog::kAnnounce : ReloadLog::kQuiet)) {
        server.apply_limits(fresh->server);
    }
    if (single) sd_notify(0, "READY=1");
}

}  // namespace

void notify_systemd_reloading() {
    char text[64];
    std::snprintf(text, sizeof text, "RELOADING=1\nMONOTONIC_USEC=%llu",
                  static_cast<unsigned long long>(core::now_ns() / core::kMicrosecond));
    sd_notify(0, text);
}

core::Status run_worker(net::ServerOptions options, const WorkerSeat* seat, Reloader* reloader) {
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
        sd_notify(0, "READY=1");
    }
    if (reloader != nullptr) {
        server.set_reload([&server, reloader, single = seat == nullptr] {
            reload_worker(server, *reloader, single);
        });
    }
    core::Status ran = server.run();
    server.set_relay(nullptr);
    return ran;
}

}  // namespace herald::tools
