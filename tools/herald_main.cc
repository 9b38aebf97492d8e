// herald: the WebSocket group broadcaster's executable (flags, start-up, the worker loop).
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "channel/cluster_frame.h"
#include "channel/master.h"
#include "net/server.h"
#include "tools/cli.h"

namespace {

using herald::core::Nanos;
using herald::net::RecvMode;
using herald::net::ServerOptions;
using herald::tools::Flags;

constexpr const char* kSummary =
    "herald " HERALD_VERSION
    " - low-latency WebSocket group broadcaster (io_uring)\n\n"
    "Clients connect over WebSocket and send JSON text frames:\n"
    "  {\"cmd\":\"add_group\",\"group_id\":\"123\"}                 join group 123\n"
    "  {\"cmd\":\"leave_group\",\"group_id\":\"123\"}               leave it\n"
    "  {\"cmd\":\"send_to_group\",\"group_id\":\"123\",\"message\":\"hi\"} send \"hi\" to every "
    "member\n"
    "A failed command is answered with {\"error\":\"<code>\",\"detail\":\"...\"}; see "
    "docs/PROTOCOL.md.\n"
    "GET /stats on the same port answers JSON counters (docs/OPERATIONS.md).\n"
    "With --workers N > 1 a master process supervises N worker processes that share the port\n"
    "(SO_REUSEPORT) and exchange send_to_group events through shared-memory rings.\n"
    "With --cluster-listen and --peers a hub process links this host to other herald hosts,\n"
    "so a send_to_group reaches members on every host; --api-listen lets a backend publish\n"
    "over HTTP (docs/CLUSTER.md).\n"
    "Prints `herald listening on ws://HOST:PORT` when ready; SIGINT/SIGTERM close every\n"
    "connection with 1001 and exit 0.";

Flags::Setter size_flag(std::uint64_t& target, std::uint64_t min, std::uint64_t max) {
    return [&target, min, max](std::string_view v) -> std::string {
        std::uint64_t n = 0;
        if (!herald::tools::parse_size(v, n)) return "expected a size such as 1048576, 64KiB, 1MiB";
        if (n < min || n > max) {
            return "must be between " + std::to_string(min) + " and " + std::to_string(max);
        }
        target = n;
        return "";
    };
}

template <class T>
Flags::Setter uint_flag(T& target, std::uint64_t min, std::uint64_t max) {
    return [&target, min, max](std::string_view v) -> std::string {
        std::uint64_t n = 0;
        if (!herald::tools::parse_uint(v, n)) return "expected a whole number";
        if (n < min || n > max) {
            return "must be between " + std::to_string(min) + " and " + std::to_string(max);
        }
        target = static_cast<T>(n);
        return "";
    };
}

Flags::Setter text_flag(std::string& target) {
    return [&target](std::string_view v) {
        target = v;
        return std::string();
    };
}

Flags::Setter duration_flag(Nanos& target) {
    return [&target](std::string_view v) -> std::string {
        Nanos n = 0;
        if (!herald::tools::parse_duration(v, n) || n <= 0) {
            return "expected a positive duration such as 10s or 500ms";
        }
        target = n;
        return "";
    };
}

// Lets herald hold as many connections as the hard limit allows.
void raise_open_file_limit() {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

// Resolves the cluster flags into master.hub_options; "" or what is wrong.
std::string cluster_options(const std::string& cluster_listen, const std::string& peers,
                            const std::string& api_listen, herald::channel::MasterOptions& master) {
    herald::channel::HubOptions& hub = master.hub_options;
    if (!cluster_listen.empty()) {
        auto e = herald::net::parse_endpoint(cluster_listen);
        if (!e) return "--cluster-listen: " + e.error();
        hub.cluster_enabled = true;
        hub.cluster_listen = *e;
    }
    if (!peers.empty()) {
        if (cluster_listen.empty()) return "--peers needs --cluster-listen";
        std::string_view rest = peers;
        while (!rest.empty()) {
            const std::size_t comma = rest.find(',');
            const std::string_view one = rest.substr(0, comma);
            rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
            if (one.empty()) continue;
            auto e = herald::net::parse_endpoint(one);
            if (!e) return "--peers: " + e.error();
            hub.peers.push_back(*e);
        }
    }
    if (!api_listen.empty()) {
        auto e = herald::net::parse_endpoint(api_listen);
        if (!e) return "--api-listen: " + e.error();
        hub.api_enabled = true;
        hub.api_listen = *e;
    }
    master.hub = hub.cluster_enabled || hub.api_enabled;
    return "";
}

}  // namespace

int main(int argc, char** argv) {
    ServerOptions options;
    herald::channel::MasterOptions master;
    const auto cpus = static_cast<unsigned>(sysconf(_SC_NPROCESSORS_ONLN));
    master.workers = cpus;
    std::string listen = "127.0.0.1:1234";
    std::uint64_t max_message = options.max_message;
    std::uint64_t max_backpressure = options.max_backpressure;
    std::uint64_t recv_buffer_size = options.recv_buffer_size;
    bool help = false;
    bool version = false;

    Flags flags("herald", kSummary);
    flags.add("listen", "HOST:PORT",
              "address to serve WebSocket on (default 127.0.0.1:1234;\n"
              "port 0 picks a free port, shown in the listening line)",
              text_flag(listen));
    flags.section("Processes");
    flags.add("workers", "N",
              "worker processes (default: one per online CPU); 1 runs a single\n"
              "process without a master or shared memory",
              uint_flag(master.workers, 1, 256));
    flags.add_switch("pin", "pin worker i to CPU i (mod the CPU count)",
                     [&] { master.pin = true; });
    flags.add("ring-size", "BYTES", "shared-memory ring per worker, a power of two (default 4MiB)",
              [&](std::string_view v) -> std::string {
                  std::uint64_t n = 0;
                  if (!herald::tools::parse_size(v, n) || n < 65536 || n > (1ull << 30) ||
                      (n & (n - 1)) != 0) {
                      return "expected a power of two from 64KiB to 1GiB";
                  }
                  master.ring_size = n;
                  return "";
              });
    flags.add("spin", "DURATION",
              "how long an idle worker polls the rings before it sleeps\n"
              "(default 5us; 0 sleeps at once)",
              [&](std::string_view v) -> std::string {
                  Nanos n = 0;
                  if (!herald::tools::parse_duration(v, n) || n > herald::core::kSecond) {
                      return "expected a duration up to 1s, such as 5us";
                  }
                  master.relay.spin = n;
                  return "";
              });
    flags.section("Limits (each breach has a defined answer, see docs/PROTOCOL.md)");
    flags.add("max-message", "BYTES",
              "largest message a client may send (default 1MiB);\n"
              "larger ones close the connection with 1009",
              size_flag(max_message, 126, 1u << 30));
    flags.add("max-backpressure", "BYTES",
              "unsent bytes one connection may owe (default 1MiB);\n"
              "beyond it the connection is closed with 1008",
              size_flag(max_backpressure, 1024, 1u << 30));
    flags.add("max-group-id", "BYTES", "longest group id (default 128)",
              uint_flag(options.max_group_id, 1, 65535));
    flags.add("max-groups-per-conn", "N", "groups one connection may join (default 1024)",
              uint_flag(options.max_groups_per_conn, 1, 1u << 20));
    flags.add("max-conns", "N",
              "connections this process accepts (default: what the open-file\n"
              "limit allows); further ones are closed at once",
              uint_flag(options.max_conns, 1, 1u << 20));
    flags.add("max-errors", "N",
              "failed commands a connection may send within 10 s before it\n"
              "is closed with 1008 (default 32)",
              uint_flag(options.max_errors, 1, 65535));
    flags.add("handshake-timeout", "DURATION", "time allowed for the HTTP upgrade (default 10s)",
              duration_flag(options.handshake_timeout));
    flags.add("close-timeout", "DURATION",
              "time allowed for a closing handshake before the\n"
              "socket is dropped (default 1s)",
              duration_flag(options.close_timeout));
    flags.section("Cluster (docs/CLUSTER.md)");
    herald::channel::HubOptions& hub = master.hub_options;
    std::string cluster_listen;
    std::string peers;
    std::string api_listen;
    std::uint64_t peer_buffer = hub.peer_buffer;
    flags.add("cluster-listen", "HOST:PORT",
              "run a hub that links this host to the hubs in --peers;\n"
              "they connect here (TCP frames)",
              text_flag(cluster_listen));
    flags.add("peers", "HOST:PORT,...",
              "every hub's --cluster-listen address; the same list may be given\n"
              "to every host (a hub skips its own address)",
              text_flag(peers));
    flags.add("node-id", "N", "this host's id, unique in the cluster (default 1)",
              uint_flag(hub.node_id, 1, UINT32_MAX));
    flags.add("cluster-name", "NAME", "hubs link only within one cluster name (default herald)",
              [&](std::string_view v) -> std::string {
                  if (v.empty() || v.size() > herald::channel::kMaxClusterName) {
                      return "expected 1 to 255 bytes";
                  }
                  hub.cluster = v;
                  return "";
              });
    flags.add("peer-buffer", "BYTES",
              "PUBLISH frames held per peer while its link is down or slow;\n"
              "beyond, they are dropped and counted (default 8MiB)",
              size_flag(peer_buffer, 64 * 1024, 1ull << 34));
    flags.add("peer-timeout", "DURATION",
              "a peer silent this long is dead: its link is closed and\n"
              "redialled (default 3s; PING every third of it)",
              duration_flag(hub.peer_timeout));
    flags.add("api-listen", "HOST:PORT",
              "serve the backend publish API here: POST /publish\n"
              "{\"group_id\":G,\"message\":M}, GET /stats (runs a hub)",
              text_flag(api_listen));
    flags.add("api-token", "TOKEN", "require `Authorization: Bearer TOKEN` on POST /publish",
              text_flag(hub.api_token));
    flags.section("io_uring");
    flags.add("recv-mode", "auto|ring|poll",
              "ring: multishot recv into provided buffers; poll: multishot poll\n"
              "then recv(); auto (default): ring where the kernel has it",
              [&](std::string_view v) -> std::string {
                  if (v == "auto") {
                      options.recv_mode = RecvMode::kAuto;
                  } else if (v == "ring") {
                      options.recv_mode = RecvMode::kRing;
                  } else if (v == "poll") {
                      options.recv_mode = RecvMode::kPoll;
                  } else {
                      return "expected auto, ring or poll";
                  }
                  return "";
              });
    flags.add("recv-buffers", "N", "provided receive buffers, a power of two (default 256)",
              [&](std::string_view v) -> std::string {
                  std::uint64_t n = 0;
                  if (!herald::tools::parse_uint(v, n) || n == 0 || n > 32768 || (n & (n - 1))) {
                      return "expected a power of two from 1 to 32768";
                  }
                  options.recv_buffers = static_cast<unsigned>(n);
                  return "";
              });
    flags.add("recv-buffer-size", "BYTES", "size of each receive buffer (default 16KiB)",
              size_flag(recv_buffer_size, 512, 1u << 20));
    flags.section("Other");
    flags.add_switch("help", "print this help and exit", [&] { help = true; });
    flags.add_switch("version", "print the version and exit", [&] { version = true; });

    if (std::string err = flags.parse(argc, argv); !err.empty()) {
        std::fprintf(stderr, "herald: %s (see herald --help)\n", err.c_str());
        return 2;
    }
    if (help) {
        std::fputs(flags.usage().c_str(), stdout);
        return 0;
    }
    if (version) {
        std::puts("herald " HERALD_VERSION);
        return 0;
    }
    auto endpoint = herald::net::parse_endpoint(listen);
    if (!endpoint) {
        std::fprintf(stderr, "herald: %s\n", endpoint.error().c_str());
        return 2;
    }
    options.listen = *endpoint;
    options.max_message = max_message;
    options.max_backpressure = max_backpressure;
    options.recv_buffer_size = static_cast<unsigned>(recv_buffer_size);

    hub.peer_buffer = peer_buffer;
    if (std::string err = cluster_options(cluster_listen, peers, api_listen, master);
        !err.empty()) {
        std::fprintf(stderr, "herald: %s (see herald --help)\n", err.c_str());
        return 2;
    }

    raise_open_file_limit();
    signal(SIGPIPE, SIG_IGN);
    if (master.workers > 1 || master.hub) {
        if (master.workers > cpus) {
            std::fprintf(stderr, "herald: note: %u workers on %u CPUs: workers will share cores\n",
                         master.workers, cpus);
        }
        if (master.ring_size / 4 < 2 * options.max_group_id) {
            std::fprintf(stderr, "herald: --ring-size is too small for --max-group-id\n");
            return 2;
        }
        master.server = options;
        // Room for a few of the largest messages while a reader catches up.
        master.relay.overflow_limit = std::max(master.ring_size, 4 * options.max_message);
        return herald::channel::run_master(master);
    }
    herald::net::Server server(options);
    auto bound = server.start();
    if (!bound) {
        std::fprintf(stderr, "herald: %s\n", bound.error().c_str());
        return 1;
    }
    std::printf("herald listening on ws://%s\n", bound->to_string().c_str());
    std::fflush(stdout);
    if (herald::core::Status ran = server.run(); !ran) {
        std::fprintf(stderr, "herald: %s\n", ran.error().c_str());
        return 1;
    }
    return 0;
}
