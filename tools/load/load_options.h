// herald-load's settings: the scenario, the shape of the load and where results go.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/result.h"

namespace herald::load {

enum class Scenario : std::uint8_t {
    kLatency,     // open loop at --rate; latency from each message's intended send time
    kThroughput,  // closed loop: at most --window messages in flight per group
    kIdle,        // hold --conns in groups; report the server's memory per connection
    kChurn,       // connect, join, publish, close, at --rate cycles per second
};

const char* scenario_name(Scenario s) noexcept;

struct LoadOptions {
    Scenario scenario = Scenario::kLatency;
    std::string url = "ws://127.0.0.1:1234/";
    std::string host = "127.0.0.1";  // from url
    std::uint16_t port = 1234;       // from url
    std::string path = "/";          // from url
    bool tls = false;                // from url: wss://
    std::string ca;                  // --ca: PEM bundle to verify a wss:// server ("" = none)
    // --publish-url: publishers connect here instead (another host of a cluster), so every
    // delivery to the others crosses the hubs. pub_port 0: the same server as --url.
    std::string pub_url;
    std::string pub_host;
    std::uint16_t pub_port = 0;
    std::string pub_path;
    bool pub_tls = false;

    std::uint32_t conns = 1000;
    std::uint32_t groups = 10;
    std::uint32_t publishers = 10;
    std::uint32_t size = 64;    // message payload bytes
    double rate = 1000;         // latency: messages/s in total; churn: cycles/s
    std::uint32_t window = 32;  // throughput: messages in flight per group
    core::Nanos duration = 15 * core::kSecond;
    core::Nanos warmup = 2 * core::kSecond;
    core::Nanos drain = 5 * core::kSecond;  // longest wait for stragglers at the end
    core::Nanos confirm_timeout = 15 * core::kSecond;
    std::uint32_t procs = 0;         // load processes (0: one per 18,000 connections)
    bool source_ips = false;         // bind process k to 127.0.0.(2+k) (many connections)
    std::vector<pid_t> server_pids;  // --server-pid: CPU and memory of these (and their children)
    std::string json_file;
    std::string histogram_file;
    std::string plot_file;
    bool quiet = false;  // no progress lines
    bool help = false;   // --help: print load_usage() and exit
};

// Parses argv[1..argc) and checks the flags against each other (derives procs and source_ips).
// The options, or one error line for "herald-load: LINE (see herald-load --help)". With --help
// it returns at once with help set.
core::Result<LoadOptions> parse_load_options(int argc, char** argv);

// The --help text.
std::string load_usage();

}  // namespace herald::load
