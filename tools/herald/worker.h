// A herald worker: one io_uring event loop serving WebSocket clients, assembled in one place for
// both a single-process herald (--workers 1) and each worker process of a master.
#pragma once

#include <cstdint>
#include <vector>

#include "channel/shm_region.h"
#include "channel/shm_relay.h"
#include "core/result.h"
#include "net/server_options.h"
#include "tools/herald/reload.h"

namespace herald::tools {

// Where a worker process of a multi-process herald sits; a single process has none.
struct WorkerSeat {
    const channel::ShmRegion& region;  // the master's shared memory (rings, counters, ready)
    std::uint32_t index;               // this worker's process index in the region
    const std::vector<int>& wake_fds;  // wake_fds[p]: process p's eventfd
    channel::RelayOptions relay;       // --spin and friends
    std::uint32_t hub;                 // the hub's process index; UINT32_MAX: no hub
};

// Serves WebSocket clients on options.listen until SIGINT/SIGTERM, then closes every connection
// with 1001 and returns.
// - seat null (single process): prints `herald listening on ws://HOST:PORT` once it listens.
// - seat given: listens with SO_REUSEPORT as worker seat->index, keeps its counters in the
//   region, exchanges send_to_group events with the other processes through the rings, answers
//   GET /stats for every process, and sets its slot's ready flag once it listens.
// - reloader given: SIGHUP reads the options again and applies the live limits
//   (Server::apply_limits); a single process (seat null) also logs what changed and tells
//   systemd (RELOADING=1, then READY=1). Null: SIGHUP is read and ignored.
// A single process sends READY=1 to systemd (sd_notify) once it listens.
// Ok after a graceful stop; else the error line (cannot listen, no io_uring, ...) without the
// "herald: " prefix, for the caller to print.
core::Status run_worker(net::ServerOptions options, const WorkerSeat* seat,
                        Reloader* reloader = nullptr);

// Tells systemd a reload began (RELOADING=1 with MONOTONIC_USEC); READY=1 ends it. Nothing
// outside systemd (no $NOTIFY_SOCKET).
void notify_systemd_reloading();

}  // namespace herald::tools
