// herald's command line: every flag parsed into one HeraldOptions, and the --help text.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "channel/hub.h"
#include "channel/shm_relay.h"
#include "core/clock.h"
#include "core/result.h"
#include "net/log.h"
#include "net/server_options.h"
#include "tools/config_file.h"

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
    std::string jwt_key;                                  // --jwt-key FILE ("": no token needed)
    std::string jwt_audience;                             // --jwt-audience
    std::string allowed_origins;                          // --allowed-origins, as given ("": any)
    std::string config_path;                              // --config FILE ("": none)
    bool print_config = false;                            // --print-config
    net::LogLevel log_level = net::LogLevel::kInfo;       // --log-level
    std::vector<std::string> args;  // the command line (argv), re-read on SIGHUP
    unsigned cpus = 1;              // online CPUs at start (the default --workers)

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

// ---- the config file (tools/herald/options_config.cc) ------------------------------------

// Whether SIGHUP applies a key to running processes or it needs a restart.
enum class Reload : std::uint8_t { kRestart, kLive };

// One flag's key in the config file, whether a reload applies it, and its effective value as
// flag text (what --print-config prints).
struct OptionKey {
    ConfigKey key;
    Reload reload;
    std::string (*value)(const HeraldOptions& options);
};

// Every key, in --help order (the table is built next to the flags in options.cc).
std::span<const OptionKey> option_keys();

// The TOML that `herald --print-config` prints: every key with its effective value. Starting
// from it (--config) gives the same options back.
std::string print_config_text(const HeraldOptions& options);

// What a reload would change: "key=value" items separated by spaces (secrets show as
// "(changed)"), in `live` for the keys a reload applies and in `restart` for the others.
struct OptionChanges {
    std::string live;
    std::string restart;
};
OptionChanges compare_options(const HeraldOptions& running, const HeraldOptions& fresh);

// Copies the fields of the keys marked Reload::kLive from `fresh` into `running`.
void apply_live_options(HeraldOptions& running, const HeraldOptions& fresh);

// Parses running.args again (the config file is read again): the options a SIGHUP reload
// offers, or the error line (as parse_options).
core::Result<HeraldOptions> reread_options(const HeraldOptions& running);

}  // namespace herald::tools
