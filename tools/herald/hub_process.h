// The hub process of a multi-process herald (--cluster-listen or --api-listen): it links this
// host to the other hosts' hubs and serves the backend publish API.
#pragma once

#include <cstdint>
#include <vector>

#include "channel/shm_region.h"
#include "tools/herald/options.h"

namespace herald::tools {

// Runs the hub as process `self` of `region` (wake_fds[p]: process p's eventfd) with
// options.hub_options and the workers' message limits, until SIGTERM/SIGINT; sets the slot's
// ready flag once it listens. Returns the hub process's exit status: 0 after a graceful stop,
// 1 after printing the one line that says why it could not start.
int run_hub_process(const HeraldOptions& options, const channel::ShmRegion& region,
                    std::uint32_t self, const std::vector<int>& wake_fds);

}  // namespace herald::tools
