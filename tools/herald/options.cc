#include "tools/herald/options.h"

#include <algorithm>
#include <string_view>

#include "channel/cluster_frame.h"
#include "net/endpoint.h"
#include "tools/cli.h"

namespace herald::tools {
namespace {

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

constexpr const char* kSeeHelp = " (see herald --help)";

// Flag values that are resolved after every flag is read: addresses, and sizes parsed wider
// than the field they end in.
struct Pending {
    std::string listen = "127.0.0.1:1234";
    std::string cluster_listen;
    std::string peers;
    std::string api_listen;
    std::uint64_t max_message = 0;
    std::uint64_t max_backpressure = 0;
    std::uint64_t recv_buffer_size = 0;
    std::uint64_t peer_buffer = 0;
};

core::Error range_error(std::uint64_t min, std::uint64_t max) {
    return core::Error{"must be between " + std::to_string(min) + " and " + std::to_string(max)};
}

Flags::Setter size_flag(std::uint64_t& target, std::uint64_t min, std::uint64_t max) {
    return [&target, min, max](std::string_view v) -> core::Status {
        const std::optional<std::uint64_t> n = parse_size(v);
        if (!n) return core::Error{"expected a size such as 1048576, 64KiB, 1MiB"};
        if (*n < min || *n > max) return range_error(min, max);
        target = *n;
        return {};
    };
}

template <class T>
Flags::Setter uint_flag(T& target, std::uint64_t min, std::uint64_t max) {
    return [&target, min, max](std::string_view v) -> core::Status {
        const std::optional<std::uint64_t> n = parse_uint(v);
        if (!n) return core::Error{"expected a whole number"};
        if (*n < min || *n > max) return range_error(min, max);
        target = static_cast<T>(*n);
        return {};
    };
}

Flags::Setter text_flag(std::string& target) {
    return [&target](std::string_view v) -> core::Status {
        target = v;
        return {};
    };
}

Flags::Setter duration_flag(core::Nanos& target) {
    return [&target](std::string_view v) -> core::Status {
        const std::optional<core::Nanos> n = parse_duration(v);
        if (!n || *n <= 0) return core::Error{"expected a positive duration such as 10s or 500ms"};
        target = *n;
        return {};
    };
}

Flags::Setter ring_size_flag(std::uint64_t& target) {
    return [&target](std::string_view v) -> core::Status {
        const std::optional<std::uint64_t> n = parse_size(v);
        if (!n || *n < 65536 || *n > (1ull << 30) || (*n & (*n - 1)) != 0) {
            return core::Error{"expected a power of two from 64KiB to 1GiB"};
        }
        target = *n;
        return {};
    };
}

Flags::Setter spin_flag(core::Nanos& target) {
    return [&target](std::string_view v) -> core::Status {
        const std::optional<core::Nanos> n = parse_duration(v);
        if (!n || *n > core::kSecond)
            return core::Error{"expected a duration up to 1s, such as 5us"};
        target = *n;
        return {};
    };
}

Flags::Setter recv_mode_flag(net::RecvMode& target) {
    return [&target](std::string_view v) -> core::Status {
        if (v == "auto") {
            target = net::RecvMode::kAuto;
        } else if (v == "ring") {
            target = net::RecvMode::kRing;
        } else if (v == "poll") {
            target = net::RecvMode::kPoll;
        } else {
            return core::Error{"expected auto, ring or poll"};
        }
        return {};
    };
}

Flags::Setter recv_buffers_flag(unsigned& target) {
    return [&target](std::string_view v) -> core::Status {
        const std::optional<std::uint64_t> n = parse_uint(v);
        if (!n || *n == 0 || *n > 32768 || (*n & (*n - 1)) != 0) {
            return core::Error{"expected a power of two from 1 to 32768"};
        }
        target = static_cast<unsigned>(*n);
        return {};
    };
}

Flags::Setter cluster_name_flag(std::string& target) {
    return [&target](std::string_view v) -> core::Status {
        if (v.empty() || v.size() > channel::kMaxClusterName) {
            return core::Error{"expected 1 to 255 bytes"};
        }
        target = v;
        return {};
    };
}

void add_process_flags(Flags& flags, HeraldOptions& o, Pending& p) {
    flags.add("listen", "HOST:PORT",
              "address to serve WebSocket on (default 127.0.0.1:1234;\n"
              "port 0 picks a free port, shown in the listening line)",
              text_flag(p.listen));
    flags.section("Processes");
    flags.add("workers", "N",
              "worker processes (default: one per online CPU); 1 runs a single\n"
              "process without a master or shared memory",
              uint_flag(o.workers, 1, 256));
    flags.add_switch("pin", "pin worker i to CPU i (mod the CPU count)", [&o] { o.pin = true; });
    flags.add("ring-size", "BYTES", "shared-memory ring per worker, a power of two (default 4MiB)",
              ring_size_flag(o.ring_size));
    flags.add("spin", "DURATION",
              "how long an idle worker polls the rings before it sleeps\n"
              "(default 5us; 0 sleeps at once)",
              spin_flag(o.relay.spin));
}

void add_limit_flags(Flags& flags, HeraldOptions& o, Pending& p) {
    net::ServerOptions& s = o.server;
    flags.section("Limits (each breach has a defined answer, see docs/PROTOCOL.md)");
    flags.add("max-message", "BYTES",
              "largest message a client may send (default 1MiB);\n"
              "larger ones close the connection with 1009",
              size_flag(p.max_message, 126, 1u << 30));
    flags.add("max-backpressure", "BYTES",
              "unsent bytes one connection may owe (default 1MiB);\n"
              "beyond it the connection is closed with 1008",
              size_flag(p.max_backpressure, 1024, 1u << 30));
    flags.add("max-group-id", "BYTES", "longest group id (default 128)",
              uint_flag(s.max_group_id, 1, 65535));
    flags.add("max-groups-per-conn", "N", "groups one connection may join (default 1024)",
              uint_flag(s.max_groups_per_conn, 1, 1u << 20));
    flags.add("max-conns", "N",
              "connections this process accepts (default: what the open-file\n"
              "limit allows); further ones are closed at once",
              uint_flag(s.max_conns, 1, 1u << 20));
    flags.add("max-errors", "N",
              "failed commands a connection may send within 10 s before it\n"
              "is closed with 1008 (default 32)",
              uint_flag(s.max_errors, 1, 65535));
    flags.add("handshake-timeout", "DURATION", "time allowed for the HTTP upgrade (default 10s)",
              duration_flag(s.handshake_timeout));
    flags.add("close-timeout", "DURATION",
              "time allowed for a closing handshake before the\n"
              "socket is dropped (default 1s)",
              duration_flag(s.close_timeout));
}

void add_cluster_flags(Flags& flags, HeraldOptions& o, Pending& p) {
    channel::HubOptions& hub = o.hub_options;
    flags.section("Cluster (docs/CLUSTER.md)");
    flags.add("cluster-listen", "HOST:PORT",
              "run a hub that links this host to the hubs in --peers;\n"
              "they connect here (TCP frames)",
              text_flag(p.cluster_listen));
    flags.add("peers", "HOST:PORT,...",
              "every hub's --cluster-listen address; the same list may be given\n"
              "to every host (a hub skips its own address)",
              text_flag(p.peers));
    flags.add("node-id", "N", "this host's id, unique in the cluster (default 1)",
              uint_flag(hub.node_id, 1, UINT32_MAX));
    flags.add("cluster-name", "NAME", "hubs link only within one cluster name (default herald)",
              cluster_name_flag(hub.cluster));
    flags.add("peer-buffer", "BYTES",
              "PUBLISH frames held per peer while its link is down or slow;\n"
              "beyond, they are dropped and counted (default 8MiB)",
              size_flag(p.peer_buffer, 64 * 1024, 1ull << 34));
    flags.add("peer-timeout", "DURATION",
              "a peer silent this long is dead: its link is closed and\n"
              "redialled (default 3s; PING every third of it)",
              duration_flag(hub.peer_timeout));
    flags.add("api-listen", "HOST:PORT",
              "serve the backend publish API here: POST /publish\n"
              "{\"group_id\":G,\"message\":M}, GET /stats (runs a hub)",
              text_flag(p.api_listen));
    flags.add("api-token", "TOKEN", "require `Authorization: Bearer TOKEN` on POST /publish",
              text_flag(hub.api_token));
}

void add_tls_flags(Flags& flags, HeraldOptions& o) {
    net::TlsFiles& tls = o.server.tls;
    flags.section("TLS (docs/OPERATIONS.md; SIGHUP reloads the files)");
    flags.add("tls-cert", "FILE",
              "PEM certificate (then its chain): the listener speaks wss://;\n"
              "needs --tls-key",
              text_flag(tls.cert));
    flags.add("tls-key", "FILE", "PEM private key of --tls-cert", text_flag(tls.key));
    flags.add("tls-ca", "FILE", "PEM CA bundle: require client certificates it signed",
              text_flag(tls.ca));
}

void add_uring_and_other_flags(Flags& flags, HeraldOptions& o, Pending& p) {
    flags.section("io_uring");
    flags.add("recv-mode", "auto|ring|poll",
              "ring: multishot recv into provided buffers; poll: multishot poll\n"
              "then recv(); auto (default): ring where the kernel has it",
              recv_mode_flag(o.server.recv_mode));
    flags.add("recv-buffers", "N", "provided receive buffers, a power of two (default 256)",
              recv_buffers_flag(o.server.recv_buffers));
    flags.add("recv-buffer-size", "BYTES", "size of each receive buffer (default 16KiB)",
              size_flag(p.recv_buffer_size, 512, 1u << 20));
    flags.section("Other");
    flags.add_switch("help", "print this help and exit", [&o] { o.help = true; });
    flags.add_switch("version", "print the version and exit", [&o] { o.version = true; });
}

// The whole flag table; its setters write into `o` and `p`, which must outlive it.
Flags make_flags(HeraldOptions& o, Pending& p) {
    p.max_message = o.server.max_message;
    p.max_backpressure = o.server.max_backpressure;
    p.recv_buffer_size = o.server.recv_buffer_size;
    p.peer_buffer = o.hub_options.peer_buffer;
    Flags flags("herald", kSummary);
    add_process_flags(flags, o, p);
    add_limit_flags(flags, o, p);
    add_cluster_flags(flags, o, p);
    add_tls_flags(flags, o);
    add_uring_and_other_flags(flags, o, p);
    return flags;
}

// "HOST:PORT,HOST:PORT,..." (empty items skipped) into hub.peers.
core::Status parse_peers(std::string_view rest, channel::HubOptions& hub) {
    while (!rest.empty()) {
        const std::size_t comma = rest.find(',');
        const std::string_view one = rest.substr(0, comma);
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
        if (one.empty()) continue;
        auto e = net::parse_endpoint(one);
        if (!e) return core::Error{"--peers: " + e.error()};
        hub.peers.push_back(*e);
    }
    return {};
}

// Resolves the cluster flags into o.hub_options and o.hub; the error has no "see --help" yet.
core::Status resolve_cluster(const Pending& p, HeraldOptions& o) {
    channel::HubOptions& hub = o.hub_options;
    hub.peer_buffer = p.peer_buffer;
    if (!p.cluster_listen.empty()) {
        auto e = net::parse_endpoint(p.cluster_listen);
        if (!e) return core::Error{"--cluster-listen: " + e.error()};
        hub.cluster_enabled = true;
        hub.cluster_listen = *e;
    }
    if (!p.peers.empty()) {
        if (p.cluster_listen.empty()) return core::Error{"--peers needs --cluster-listen"};
        if (core::Status peers = parse_peers(p.peers, hub); !peers) return peers;
    }
    if (!p.api_listen.empty()) {
        auto e = net::parse_endpoint(p.api_listen);
        if (!e) return core::Error{"--api-listen: " + e.error()};
        hub.api_enabled = true;
        hub.api_listen = *e;
    }
    o.hub = hub.cluster_enabled || hub.api_enabled;
    return {};
}

// Everything resolved after the flags are read, in the order herald always checked it.
core::Status resolve(const Pending& p, HeraldOptions& o) {
    auto endpoint = net::parse_endpoint(p.listen);
    if (!endpoint) return core::Error{endpoint.error()};
    o.server.listen = *endpoint;
    o.server.max_message = p.max_message;
    o.server.max_backpressure = p.max_backpressure;
    o.server.recv_buffer_size = static_cast<unsigned>(p.recv_buffer_size);
    if (core::Status cluster = resolve_cluster(p, o); !cluster) {
        return core::Error{cluster.error() + kSeeHelp};
    }
    const net::TlsFiles& tls = o.server.tls;
    if (tls.cert.empty() != tls.key.empty() || (!tls.ca.empty() && tls.cert.empty())) {
        return core::Error{
            std::string("--tls-cert and --tls-key go together (--tls-ca needs both)") + kSeeHelp};
    }
    o.relay.interest = o.hub;
    // Room for a few of the largest messages while a reader catches up.
    o.relay.overflow_limit = std::max(o.ring_size, 4 * o.server.max_message);
    return {};
}

}  // namespace

core::Result<HeraldOptions> parse_options(int argc, char** argv, unsigned cpus) {
    HeraldOptions o;
    o.workers = cpus;
    Pending p;
    Flags flags = make_flags(o, p);
    if (core::Status parsed = flags.parse(argc, argv); !parsed) {
        return core::Error{parsed.error() + kSeeHelp};
    }
    if (o.help || o.version) return o;
    if (core::Status resolved = resolve(p, o); !resolved) return core::Error{resolved.error()};
    return o;
}

std::string usage() {
    HeraldOptions o;
    Pending p;
    return make_flags(o, p).usage();
}

core::Status check_multi_process(const HeraldOptions& options) {
    if (options.ring_size / 4 < 2 * options.server.max_group_id) {
        return core::Error{"--ring-size is too small for --max-group-id"};
    }
    return {};
}

}  // namespace herald::tools
