#include "tools/herald/options.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <memory>
#include <string_view>

#include "channel/cluster_frame.h"
#include "channel/peer_auth.h"
#include "net/endpoint.h"
#include "tools/cli.h"
#include "tools/herald/option_flags.h"

namespace herald::tools {
namespace {

using namespace detail;

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
    "connection with 1001 and exit 0; SIGHUP reads --config FILE again and applies the limits\n"
    "that can change live (docs/OPERATIONS.md).";

void add_process_flags(Flags& flags, HeraldOptions& o, Pending& p, Keys& k) {
    flags.add("listen", "HOST:PORT",
              "address to serve WebSocket on (default 127.0.0.1:1234;\n"
              "port 0 picks a free port, shown in the listening line)",
              text_flag(p.listen));
    key(k, "listen", "address", "listen", ConfigType::kString, Reload::kRestart,
        [](const HeraldOptions& x) { return x.server.listen.to_string(); });
    flags.section("Processes");
    flags.add("workers", "N",
              "worker processes (default: one per online CPU); 1 runs a single\n"
              "process without a master or shared memory",
              uint_flag(o.workers, 1, 256));
    key(k, "process", "workers", "workers", ConfigType::kInteger, Reload::kRestart,
        [](const HeraldOptions& x) { return num(x.workers); });
    flags.add_switch("pin", "pin worker i to CPU i (mod the CPU count)", [&o] { o.pin = true; });
    key(k, "process", "pin", "pin", ConfigType::kBoolean, Reload::kRestart,
        [](const HeraldOptions& x) { return std::string(x.pin ? "true" : "false"); });
    flags.add("ring-size", "BYTES", "shared-memory ring per worker, a power of two (default 4MiB)",
              ring_size_flag(o.ring_size));
    key(k, "process", "ring-size", "ring-size", ConfigType::kSize, Reload::kRestart,
        [](const HeraldOptions& x) { return num(x.ring_size); });
    flags.add("spin", "DURATION",
              "how long an idle worker polls the rings before it sleeps\n"
              "(default 5us; 0 sleeps at once)",
              spin_flag(o.relay.spin));
    key(k, "process", "spin", "spin", ConfigType::kDuration, Reload::kRestart,
        [](const HeraldOptions& x) { return dur(x.relay.spin); });
    flags.add("ring-stall", "DURATION",
              "how long a worker (or the hub) may read nothing of a full ring\n"
              "before the writer laps it: its members are then closed 1013\n"
              "(default 1s); a slow reader that progresses is never lapped,\n"
              "the writer's clients wait instead",
              duration_flag(o.relay.stall_bound));
    key(k, "process", "ring-stall", "ring-stall", ConfigType::kDuration, Reload::kRestart,
        [](const HeraldOptions& x) { return dur(x.relay.stall_bound); });
}

void add_limit_flags(Flags& flags, HeraldOptions& o, Pending& p, Keys& k) {
    net::ServerOptions& s = o.server;
    flags.section("Limits (each breach has a defined answer, see docs/PROTOCOL.md)");
    flags.add("max-message", "BYTES",
              "largest message a client may send (default 1MiB);\n"
              "larger ones close the connection with 1009",
              size_flag(p.max_message, 126, 1u << 30));
    key(k, "limits", "max-message", "max-message", ConfigType::kSize, Reload::kLive,
        [](const HeraldOptions& x) { return num(x.server.max_message); });
    flags.add("max-backpressure", "BYTES",
              "unsent bytes one connection may owe (default 1MiB);\n"
              "beyond it the connection is closed with 1008",
              size_flag(p.max_backpressure, 1024, 1u << 30));
    key(k, "limits", "max-backpressure", "max-backpressure", ConfigType::kSize, Reload::kLive,
        [](const HeraldOptions& x) { return num(x.server.max_backpressure); });
    flags.add("max-group-id", "BYTES", "longest group id (default 128)",
              uint_flag(s.max_group_id, 1, 65535));
    key(k, "limits", "max-group-id", "max-group-id", ConfigType::kInteger, Reload::kRestart,
        [](const HeraldOptions& x) { return num(x.server.max_group_id); });
    flags.add("max-groups-per-conn", "N", "groups one connection may join (default 1024)",
              uint_flag(s.max_groups_per_conn, 1, 1u << 20));
    key(k, "limits", "max-groups-per-conn", "max-groups-per-conn", ConfigType::kInteger,
        Reload::kLive, [](const HeraldOptions& x) { return num(x.server.max_groups_per_conn); });
    flags.add("max-conns", "N",
              "connections this process serves (default: what the open-file\n"
              "limit allows); further ones get 503 with Retry-After: 1",
              uint_flag(s.max_conns, 1, 1u << 20));
    key(k, "limits", "max-conns", "max-conns", ConfigType::kInteger, Reload::kRestart,
        [](const HeraldOptions& x) {
            return x.server.max_conns == 0 ? "" : num(x.server.max_conns);
        });
    flags.add("max-errors", "N",
              "failed commands a connection may send within 10 s before it\n"
              "is closed with 1008 (default 32)",
              uint_flag(s.max_errors, 1, 65535));
    key(k, "limits", "max-errors", "max-errors", ConfigType::kInteger, Reload::kLive,
        [](const HeraldOptions& x) { return num(x.server.max_errors); });
    flags.add("handshake-timeout", "DURATION", "time allowed for the HTTP upgrade (default 10s)",
              duration_flag(s.handshake_timeout));
    key(k, "limits", "handshake-timeout", "handshake-timeout", ConfigType::kDuration, Reload::kLive,
        [](const HeraldOptions& x) { return dur(x.server.handshake_timeout); });
    flags.add("close-timeout", "DURATION",
              "time allowed for a closing handshake before the\n"
              "socket is dropped (default 1s)",
              duration_flag(s.close_timeout));
    key(k, "limits", "close-timeout", "close-timeout", ConfigType::kDuration, Reload::kLive,
        [](const HeraldOptions& x) { return dur(x.server.close_timeout); });
}

void add_cluster_flags(Flags& flags, HeraldOptions& o, Pending& p, Keys& k) {
    channel::HubOptions& hub = o.hub_options;
    flags.section("Cluster (docs/CLUSTER.md)");
    flags.add("cluster-listen", "HOST:PORT",
              "run a hub that links this host to the hubs in --peers;\n"
              "they connect here (TCP frames)",
              text_flag(p.cluster_listen));
    key(k, "cluster", "listen", "cluster-listen", ConfigType::kString, Reload::kRestart,
        [](const HeraldOptions& x) {
            return x.hub_options.cluster_enabled ? x.hub_options.cluster_listen.to_string() : "";
        });
    flags.add("peers", "HOST:PORT,...",
              "every hub's --cluster-listen address; the same list may be given\n"
              "to every host (a hub skips its own address)",
              text_flag(p.peers));
    key(k, "cluster", "peers", "peers", ConfigType::kList, Reload::kRestart, peers_text);
    flags.add("node-id", "N", "this host's id, unique in the cluster (default 1)",
              uint_flag(hub.node_id, 1, UINT32_MAX));
    key(k, "cluster", "node-id", "node-id", ConfigType::kInteger, Reload::kRestart,
        [](const HeraldOptions& x) { return num(x.hub_options.node_id); });
    flags.add("cluster-secret", "FILE",
              "a file of at least 16 bytes every hub of the cluster shares: peers\n"
              "prove it (HMAC-SHA256 challenge-response) before anything else",
              text_flag(hub.cluster_secret_file));
    key(k, "cluster", "secret", "cluster-secret", ConfigType::kString, Reload::kRestart,
        [](const HeraldOptions& x) { return x.hub_options.cluster_secret_file; });
    flags.add_switch("cluster-insecure",
                     "allow a hub without --cluster-secret on a --cluster-listen\n"
                     "address that is not loopback (anyone reaching it may join)",
                     [&hub] { hub.cluster_insecure = true; });
    key(k, "cluster", "insecure", "cluster-insecure", ConfigType::kBoolean, Reload::kRestart,
        [](const HeraldOptions& x) {
            return std::string(x.hub_options.cluster_insecure ? "true" : "false");
        });
    flags.add("cluster-name", "NAME", "hubs link only within one cluster name (default herald)",
              cluster_name_flag(hub.cluster));
    key(k, "cluster", "name", "cluster-name", ConfigType::kString, Reload::kRestart,
        [](const HeraldOptions& x) { return x.hub_options.cluster; });
    flags.add("peer-buffer", "BYTES",
              "PUBLISH frames held per peer while its link is down or slow;\n"
              "beyond, they are dropped and counted (default 8MiB)",
              size_flag(p.peer_buffer, 64 * 1024, 1ull << 34));
    key(k, "cluster", "peer-buffer", "peer-buffer", ConfigType::kSize, Reload::kRestart,
        [](const HeraldOptions& x) { return num(x.hub_options.peer_buffer); });
    flags.add("peer-timeout", "DURATION",
              "a peer silent this long is dead: its link is closed and\n"
              "redialled (default 3s; PING every third of it)",
              duration_flag(hub.peer_timeout));
    key(k, "cluster", "peer-timeout", "peer-timeout", ConfigType::kDuration, Reload::kRestart,
        [](const HeraldOptions& x) { return dur(x.hub_options.peer_timeout); });
}

void add_admin_flags(Flags& flags, HeraldOptions& o, Pending& p, Keys& k) {
    channel::HubOptions& hub = o.hub_options;
    flags.add("admin-listen", "HOST:PORT",
              "serve the admin/API listener here (runs a hub): POST /publish,\n"
              "GET /stats, /metrics, /healthz, /readyz (docs/OPERATIONS.md)",
              listen_alias_flag(p, "--admin-listen"));
    key(k, "admin", "listen", "admin-listen", ConfigType::kString, Reload::kRestart,
        [](const HeraldOptions& x) {
            return x.hub_options.api_enabled ? x.hub_options.api_listen.to_string() : "";
        });
    flags.add("api-listen", "HOST:PORT", "the same as --admin-listen (its former name)",
              listen_alias_flag(p, "--api-listen"));
    flags.add("api-token", "TOKEN", "require `Authorization: Bearer TOKEN` on POST /publish",
              text_flag(hub.api_token));
    key(k, "admin", "token", "api-token", ConfigType::kString, Reload::kLive,
        [](const HeraldOptions& x) { return x.hub_options.api_token; });
    flags.add("admin-max-conns", "N", "open admin connections at once (default 64)",
              uint_flag(hub.admin_max_conns, 1, 65535));
    key(k, "admin", "max-conns", "admin-max-conns", ConfigType::kInteger, Reload::kRestart,
        [](const HeraldOptions& x) { return num(x.hub_options.admin_max_conns); });
    flags.add("admin-max-conns-per-ip", "N",
              "admin connections per client address (default 16; 0: no cap)",
              uint_flag(hub.admin_max_conns_per_ip, 0, 65535));
    key(k, "admin", "max-conns-per-ip", "admin-max-conns-per-ip", ConfigType::kInteger,
        Reload::kRestart,
        [](const HeraldOptions& x) { return num(x.hub_options.admin_max_conns_per_ip); });
    flags.add("admin-request-timeout", "DURATION",
              "total time for an admin request's head and body, from the\n"
              "connection's start or the previous answer (default 30s)",
              duration_flag(hub.admin_request_timeout));
    key(k, "admin", "request-timeout", "admin-request-timeout", ConfigType::kDuration,
        Reload::kRestart,
        [](const HeraldOptions& x) { return dur(x.hub_options.admin_request_timeout); });
    flags.add("stats-on-ws-port", "on|off",
              "answer GET /stats on the WebSocket port (default: on when --listen\n"
              "is a loopback address, off otherwise; the admin listener serves it)",
              text_flag(p.stats_on_ws_port));
    key(k, "listen", "stats-on-ws-port", "stats-on-ws-port", ConfigType::kString, Reload::kRestart,
        [](const HeraldOptions& x) -> std::string {
            return x.server.stats_on_ws_port ? "on" : "off";
        });
}

void add_uring_and_other_flags(Flags& flags, HeraldOptions& o, Pending& p, Keys& k) {
    flags.section("io_uring");
    flags.add("recv-mode", "auto|ring|poll",
              "ring: multishot recv into provided buffers; poll: multishot poll\n"
              "then recv(); auto (default): ring where the kernel has it",
              recv_mode_flag(o.server.recv_mode));
    key(k, "listen", "recv-mode", "recv-mode", ConfigType::kString, Reload::kRestart,
        [](const HeraldOptions& x) { return recv_mode_text(x.server.recv_mode); });
    flags.add("recv-buffers", "N", "provided receive buffers, a power of two (default 256)",
              recv_buffers_flag(o.server.recv_buffers));
    key(k, "listen", "recv-buffers", "recv-buffers", ConfigType::kInteger, Reload::kRestart,
        [](const HeraldOptions& x) { return num(x.server.recv_buffers); });
    flags.add("recv-buffer-size", "BYTES", "size of each receive buffer (default 16KiB)",
              size_flag(p.recv_buffer_size, 512, 1u << 20));
    key(k, "listen", "recv-buffer-size", "recv-buffer-size", ConfigType::kSize, Reload::kRestart,
        [](const HeraldOptions& x) { return num(x.server.recv_buffer_size); });
    add_kernel_flags(flags, o, k);
    flags.section("Other");
    flags.add("config", "FILE",
              "read flags from this TOML file first (docs/OPERATIONS.md); flags\n"
              "given on the command line override it; SIGHUP reads it again",
              text_flag(o.config_path));
    flags.add_switch("print-config", "print the effective configuration as TOML and exit",
                     [&o] { o.print_config = true; });
    flags.add("log-level", "LEVEL", "debug, info (default), warn or error",
              log_level_flag(o.log_level));
    key(k, "process", "log-level", "log-level", ConfigType::kString, Reload::kLive,
        [](const HeraldOptions& x) { return std::string(net::log_level_name(x.log_level)); });
    flags.add_switch("help", "print this help and exit", [&o] { o.help = true; });
    flags.add_switch("version", "print the version and exit", [&o] { o.version = true; });
}

// The whole flag table; its setters write into `o` and `p`, which must outlive it. Each flag's
// config-file key is added to `k` next to it.
Flags make_flags(HeraldOptions& o, Pending& p, Keys& k) {
    p.max_message = o.server.max_message;
    p.max_backpressure = o.server.max_backpressure;
    p.recv_buffer_size = o.server.recv_buffer_size;
    p.peer_buffer = o.hub_options.peer_buffer;
    p.nats_buffer = o.hub_options.nats_buffer;
    Flags flags("herald", kSummary);
    add_process_flags(flags, o, p, k);
    add_limit_flags(flags, o, p, k);
    add_access_flags(flags, o, p, k);
    add_cluster_flags(flags, o, p, k);
    add_nats_flags(flags, o, p, k);
    add_admin_flags(flags, o, p, k);
    add_tls_flags(flags, o, k);
    add_uring_and_other_flags(flags, o, p, k);
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

bool is_loopback(const net::Endpoint& e) {
    const sockaddr_storage& a = e.addr;
    if (a.ss_family == AF_INET) {
        return (ntohl(reinterpret_cast<const sockaddr_in&>(a).sin_addr.s_addr) >> 24) == 127;
    }
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(a);
    return a.ss_family == AF_INET6 && IN6_IS_ADDR_LOOPBACK(&v6.sin6_addr);
}

// --cluster-secret FILE, read once; without it only a loopback --cluster-listen, unless
// --cluster-insecure.
core::Status resolve_cluster_secret(channel::HubOptions& hub) {
    if (!hub.cluster_secret_file.empty()) {
        auto secret = channel::read_cluster_secret(hub.cluster_secret_file);
        if (!secret) return core::Error{secret.error()};
        hub.cluster_secret = std::move(*secret);
        return {};
    }
    if (!hub.cluster_enabled || hub.cluster_insecure || is_loopback(hub.cluster_listen)) return {};
    return core::Error{"--cluster-listen " + hub.cluster_listen.to_string() +
                       " is not a loopback address: give --cluster-secret FILE (the same on "
                       "every hub) or --cluster-insecure"};
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
    if (core::Status secret = resolve_cluster_secret(hub); !secret) return secret;
    if (!p.peers.empty()) {
        if (p.cluster_listen.empty()) return core::Error{"--peers needs --cluster-listen"};
        if (core::Status peers = parse_peers(p.peers, hub); !peers) return peers;
    }
    if (!p.api_listen.empty()) {
        auto e = net::parse_endpoint(p.api_listen);
        if (!e) return core::Error{std::string(p.api_listen_flag) + ": " + e.error()};
        hub.api_enabled = true;
        hub.api_listen = *e;
    }
    if (core::Status nats = resolve_nats(p, o); !nats) return nats;
    o.hub = hub.cluster_enabled || hub.api_enabled || hub.engine == channel::Engine::kNats;
    return {};
}

// --stats-on-ws-port: on, off, or auto (on only for a loopback --listen: 127.0.0.0/8, ::1).
core::Status resolve_stats_on_ws_port(const Pending& p, net::ServerOptions& server) {
    if (p.stats_on_ws_port == "on" || p.stats_on_ws_port == "off") {
        server.stats_on_ws_port = p.stats_on_ws_port == "on";
        return {};
    }
    if (p.stats_on_ws_port != "auto") return core::Error{"--stats-on-ws-port: expected on or off"};
    server.stats_on_ws_port = is_loopback(server.listen);
    return {};
}

// Everything resolved after the flags are read, in the order herald always checked it.
core::Status resolve(const Pending& p, HeraldOptions& o) {
    auto endpoint = net::parse_endpoint(p.listen);
    if (!endpoint) return core::Error{endpoint.error()};
    o.server.listen = *endpoint;
    if (core::Status stats = resolve_stats_on_ws_port(p, o.server); !stats) {
        return core::Error{stats.error() + kSeeHelp};
    }
    o.server.max_message = p.max_message;
    o.server.max_backpressure = p.max_backpressure;
    o.server.recv_buffer_size = static_cast<unsigned>(p.recv_buffer_size);
    if (core::Status cluster = resolve_cluster(p, o); !cluster) {
        return core::Error{cluster.error() + kSeeHelp};
    }
    if (core::Status access = resolve_access(p, o); !access) return access;
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

// The FILE of the last --config FILE / --config=FILE in argv ("" when none).
std::string config_path_in(int argc, char** argv) {
    std::string path;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--config" && i + 1 < argc) path = argv[++i];
        if (arg.starts_with("--config=")) path = arg.substr(9);
    }
    return path;
}

// Feeds the flags of the config file at `path` to `flags`; an error names the file, the line
// and the key (and the flag parser's reason for a bad value).
core::Status apply_config_file(Flags& flags, const std::string& path) {
    std::vector<ConfigKey> schema;
    for (const OptionKey& k : option_keys()) schema.push_back(k.key);
    auto settings = config_file_settings(path, schema);
    if (!settings) return core::Error{settings.error()};
    for (ConfigSetting& s : *settings) {
        char program[] = "herald";
        char* argv[] = {program, s.flag.data()};
        if (core::Status ok = flags.parse(2, argv); !ok)
            return core::Error{s.origin + ": " + ok.error()};
    }
    return {};
}

}  // namespace

core::Result<HeraldOptions> parse_options(int argc, char** argv, unsigned cpus) {
    HeraldOptions o;
    o.workers = cpus;
    o.cpus = cpus;
    o.args.assign(argv, argv + argc);
    Pending p;
    Keys keys;
    Flags flags = make_flags(o, p, keys);
    if (const std::string path = config_path_in(argc, argv); !path.empty()) {
        if (core::Status read = apply_config_file(flags, path); !read)
            return core::Error{read.error()};
    }
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
    Keys keys;
    return make_flags(o, p, keys).usage();
}

std::span<const OptionKey> option_keys() {
    static const Keys keys = [] {
        HeraldOptions o;
        Pending p;
        Keys k;
        make_flags(o, p, k);
        return k;
    }();
    return keys;
}

core::Status check_multi_process(const HeraldOptions& options) {
    if (options.ring_size / 4 < 2 * options.server.max_group_id) {
        return core::Error{"--ring-size is too small for --max-group-id"};
    }
    return {};
}

}  // namespace herald::tools
