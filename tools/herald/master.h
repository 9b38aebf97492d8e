// The master of a multi-process herald: reserves the port, creates the shared memory, forks the
// workers (and the hub), restarts any that dies (backing off when one keeps dying) and stops
// them gracefully. It never touches a client socket.
#pragma once

#include "tools/herald/options.h"

namespace herald::tools {

// Runs the master until SIGINT/SIGTERM; prints `herald listening on ws://HOST:PORT` once every
// worker (and the hub, when options.hub: process index options.workers) is up. Worker i runs
// run_worker() on the reserved port; the hub runs run_hub_process().
// Returns the master process's exit status, which main() returns as it is: 0 after a graceful
// stop, 1 when start-up failed (one line on stderr, from the master or the failing child,
// names the cause and the fix).
int run_master(const HeraldOptions& options);

}  // namespace herald::tools
