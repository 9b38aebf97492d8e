// The master of a multi-process herald: creates the shared memory, forks and supervises the
// workers, and stops them gracefully. It never touches a client socket.
#pragma once

#include <cstdint>

#include "channel/hub.h"
#include "channel/shm_relay.h"
#include "core/clock.h"
#include "net/server_options.h"

namespace herald::channel {

struct MasterOptions {
    net::ServerOptions server;           // what every worker serves (listen, limits)
    unsigned workers = 2;                // --workers
    bool pin = false;                    // --pin: worker i on CPU i
    std::uint64_t ring_size = 4u << 20;  // --ring-size: bytes per writer's ring
    RelayOptions relay;                  // --spin and friends
    bool hub = false;                    // fork a hub (--cluster-listen or --api-listen given)
    HubOptions hub_options;
    core::Nanos restart_backoff_max = 5 * core::kSecond;
};

// Runs the master until SIGINT/SIGTERM; prints the listening line once every worker (and the
// hub, when there is one: process index `workers`) is up.
// Returns the process exit code: 0 after a graceful stop, 1 when start-up failed (one line on
// stderr names the cause and the fix).
int run_master(const MasterOptions& options);

}  // namespace herald::channel
