// herald's command line: every flag parsed into one HeraldOptions, and the --help text.
#pragma once

#include <cstdint>
#include <string>

#include "channel/hub.h"
#include "channel/shm_relay.h"
#include "core/clock.h"
#include "core/result.h"
#include "net/server_options.h"

namespace herald::tools {

struct HeraldOptions {
    net::ServerOptions server;           // what every worker serves (--listen, the limits)
    unsigned workers = 1;                // --workers (default: the online CPUs)
    bool pin = false;                    // --pin: worker i on CPU i
    std::uint64_t ring_size = 4u << 20;  // --ring-size: bytes per writer's ring
    channel::RelayOptions relay;         // --spin; interest on when there is a hub
    bool hub = false;                    // fork a hub (--cluster-listen or --api-listen given)
    channel::HubOptions hub_options;     // --cluster-listen, --peers, --api-listen and friends
    core::Nanos restart_backoff_max = 5 * core::kSecond;  // longest wait before a restart
    bool help = false;                                    // --help
    bool version = false;                                 // --version

    // A master with worker processes (and maybe a hub), rather than one process alone.
    bool multi_process() const noexcept { return workers > 1 || hub; }
};

// Parses argv[1..argc) into options; `cpus` (online CPUs) is the default --workers. The error
// is one line for "herald: LINE" on stderr, ending in "(see herald --help)" when a flag or a
// combination of flags is wrong. --help and --version set their field and stop nothing: the
// caller looks at them first.
core::Result<HeraldOptions> parse_options(int argc, char** argv, unsigned cpus);

// The --help text (flags, defaults and ranges), as `herald --help` prints it.
std::string usage();

// What only a multi-process herald needs of the options: a ring that holds a record with the
// longest group id. Ok, or the error line for "herald: LINE".
core::Status check_multi_process(const HeraldOptions& options);

}  // namespace herald::tools
