#include "tools/load/load_options.h"

#include <charconv>
#include <optional>

#include "tools/cli.h"

namespace herald::load {

const char* scenario_name(Scenario s) noexcept {
    switch (s) {
        case Scenario::kLatency:
            return "latency";
        case Scenario::kThroughput:
            return "throughput";
        case Scenario::kIdle:
            return "idle";
        case Scenario::kChurn:
            return "churn";
    }
    return "?";
}

namespace {

constexpr const char* kSummary =
    "herald-load - load generator and checker for WebSocket group broadcasters speaking the\n"
    "herald / Workerman Channel protocol (add_group, send_to_group).\n\n"
    "Connection i joins group i mod --groups; publisher p (connection p) sends to its group.\n"
    "Each message carries publisher id, sequence number and intended send time; receivers\n"
    "check loss, duplicates and per-publisher order. Membership is confirmed by probe round\n"
    "trips before measuring (never by sleeping): group g's leader (connection g) probes it\n"
    "group while a member, in any load process, has had no probe yet, with one probe out at\n"
    "a time (the next when it came back, or after 500 ms) and at most one per 20 ms.\n\n"
    "Scenarios (--scenario):\n"
    "  latency     open loop: --rate messages/s in total, spread over the publishers; latency\n"
    "              is measured from each message's intended send time, so a late sender or a\n"
    "              stalled server shows in the figures (no coordinated omission)\n"
    "  throughput  closed loop: at most --window messages in flight per group; the maximum\n"
    "              deliveries/s\n"
    "  idle        hold --conns connections in their groups for --duration and report the\n"
    "              server's resident memory per connection: (RSS at the end - RSS before\n"
    "              connecting) / connections; needs --server-pid and a freshly started server.\n"
    "              Also the same from PSS (Pss: of /proc/PID/smaps_rollup, each shared page\n"
    "              divided among the processes mapping it) and from its anonymous part\n"
    "              (Pss_Anon: heap and anonymous mappings); -1 in JSON when unreadable\n"
    "  churn       connect, join, publish, receive, close: --rate cycles per second\n\n"
    "Output: a progress line per second on stderr; a table on stdout; --json, --histogram\n"
    "(CSV percentile spectrum), --plot (PNG via gnuplot). JSON fields include\n"
    "server_bytes_per_conn (RSS), server_pss_bytes_per_conn, server_anon_bytes_per_conn,\n"
    "probes_sent and confirm_s (the confirm phase). Exit status: 0 ok, 1 loss,\n"
    "duplicates, reordering or errors seen, 2 bad usage, 3 membership never confirmed.";

// ws://HOST:PORT/PATH or wss://HOST:PORT/PATH into its parts.
struct WsUrl {
    std::string url;   // as given
    std::string host;  // "localhost" becomes 127.0.0.1
    std::uint16_t port = 0;
    std::string path;  // "/" when the URL has none
    bool tls = false;  // wss://
};

core::Result<WsUrl> parse_url(std::string_view v) {
    const bool tls = v.starts_with("wss://");
    if (!tls && !v.starts_with("ws://")) return core::Error{"only ws:// and wss:// URLs"};
    std::string_view rest = v.substr(tls ? 6 : 5);
    const auto slash = rest.find('/');
    const std::string_view hostport = rest.substr(0, slash);
    WsUrl u;
    u.path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
    const auto colon = hostport.rfind(':');
    if (colon == std::string_view::npos) return core::Error{"the URL needs a port"};
    const std::optional<std::uint64_t> port = tools::parse_uint(hostport.substr(colon + 1));
    if (!port || *port == 0 || *port > 65535) return core::Error{"bad port"};
    u.host = hostport.substr(0, colon);
    if (u.host == "localhost") u.host = "127.0.0.1";
    u.port = static_cast<std::uint16_t>(*port);
    u.url = v;
    u.tls = tls;
    return u;
}

tools::Flags::Setter url_flag(std::string& url, std::string& host, std::uint16_t& port,
                              std::string& path, bool& tls) {
    return [&url, &host, &port, &path, &tls](std::string_view v) -> core::Status {
        core::Result<WsUrl> u = parse_url(v);
        if (!u) return core::Error{u.error()};
        url = u->url;
        host = u->host;
        port = u->port;
        path = u->path;
        tls = u->tls;
        return {};
    };
}

tools::Flags::Setter uint_flag(std::uint32_t& target, std::uint64_t min, std::uint64_t max) {
    return [&target, min, max](std::string_view v) -> core::Status {
        const std::optional<std::uint64_t> n = tools::parse_uint(v);
        if (!n || *n < min || *n > max) {
            return core::Error{"expected a whole number from " + std::to_string(min) + " to " +
                               std::to_string(max)};
        }
        target = static_cast<std::uint32_t>(*n);
        return {};
    };
}

tools::Flags::Setter duration_flag(core::Nanos& target) {
    return [&target](std::string_view v) -> core::Status {
        const std::optional<core::Nanos> n = tools::parse_duration(v);
        if (!n) return core::Error{"expected a duration such as 15s"};
        target = *n;
        return {};
    };
}

tools::Flags::Setter text_flag(std::string& target) {
    return [&target](std::string_view v) -> core::Status {
        target = v;
        return {};
    };
}

tools::Flags::Setter scenario_flag(Scenario& target) {
    return [&target](std::string_view v) -> core::Status {
        for (Scenario s :
             {Scenario::kLatency, Scenario::kThroughput, Scenario::kIdle, Scenario::kChurn}) {
            if (v == scenario_name(s)) {
                target = s;
                return {};
            }
        }
        return core::Error{"expected latency, throughput, idle or churn"};
    };
}

tools::Flags::Setter rate_flag(double& target) {
    return [&target](std::string_view v) -> core::Status {
        double r = 0;
        const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), r);
        if (ec != std::errc() || end != v.data() + v.size() || r <= 0) {
            return core::Error{"expected a positive number"};
        }
        target = r;
        return {};
    };
}

tools::Flags::Setter pid_flag(std::vector<pid_t>& target) {
    return [&target](std::string_view v) -> core::Status {
        const std::optional<std::uint64_t> pid = tools::parse_uint(v);
        if (!pid || *pid == 0) return core::Error{"expected a process id"};
        target.push_back(static_cast<pid_t>(*pid));
        return {};
    };
}

void add_target_and_shape_flags(tools::Flags& flags, LoadOptions& o) {
    flags.add("scenario", "NAME", "latency (default), throughput, idle or churn",
              scenario_flag(o.scenario));
    flags.add("url", "ws[s]://HOST:PORT/PATH", "server to load (default ws://127.0.0.1:1234/)",
              url_flag(o.url, o.host, o.port, o.path, o.tls));
    flags.add("publish-url", "ws://HOST:PORT/PATH",
              "publishers connect here instead of --url: another host of a\n"
              "herald cluster, to measure the hop between hosts",
              url_flag(o.pub_url, o.pub_host, o.pub_port, o.pub_path, o.pub_tls));
    flags.add("ca", "FILE",
              "wss://: verify the server against this PEM bundle (default: no\n"
              "verification)",
              [&o](std::string_view v) -> core::Status {
                  o.ca = v;
                  return {};
              });
    flags.section("Shape of the load");
    flags.add("conns", "N", "connections (default 1000)", uint_flag(o.conns, 1, 1'000'000));
    flags.add("groups", "N", "groups; connection i joins group i mod N (default 10)",
              uint_flag(o.groups, 1, 1'000'000));
    flags.add("publishers", "N", "publishing connections, 0..N-1 (default 10)",
              uint_flag(o.publishers, 0, 1'000'000));
    flags.add("size", "BYTES", "message payload size (default 64; at least the ~30-byte stamp)",
              uint_flag(o.size, 1, 16u << 20));
    flags.add("rate", "N", "latency: messages/s in total; churn: cycles/s (default 1000)",
              rate_flag(o.rate));
    flags.add("window", "N", "throughput: messages in flight per group (default 32)",
              uint_flag(o.window, 1, 1'000'000));
    flags.add("duration", "DURATION", "measured time (default 15s)", duration_flag(o.duration));
    flags.add("warmup", "DURATION", "time before measuring (default 2s)", duration_flag(o.warmup));
    flags.add("drain", "DURATION", "longest wait for late deliveries at the end (default 5s)",
              duration_flag(o.drain));
    flags.add("confirm-timeout", "DURATION",
              "longest wait for every member to be confirmed (default 15s)",
              duration_flag(o.confirm_timeout));
}

void add_process_and_output_flags(tools::Flags& flags, LoadOptions& o) {
    flags.section("Processes");
    flags.add("procs", "N", "load processes (default: one per 18,000 connections)",
              uint_flag(o.procs, 1, 250));
    flags.add_switch("source-ips",
                     "bind process k to 127.0.0.(2+k): past ~28,000 connections\n"
                     "one source address runs out of ports (on by default past 20,000)",
                     [&o] { o.source_ips = true; });
    flags.section("Server figures");
    flags.add("server-pid", "PID",
              "the server's process (repeatable; its children are counted\n"
              "too): CPU time, resident (RSS) and proportional (PSS) memory",
              pid_flag(o.server_pids));
    flags.section("Output");
    flags.add("json", "FILE", "write the results as JSON", text_flag(o.json_file));
    flags.add("histogram", "FILE", "write the latency percentile spectrum as CSV",
              text_flag(o.histogram_file));
    flags.add("plot", "FILE.png", "plot the latency spectrum with gnuplot", text_flag(o.plot_file));
    flags.add_switch("quiet", "no progress lines", [&o] { o.quiet = true; });
    flags.add_switch("help", "print this help and exit", [&o] { o.help = true; });
}

// The whole flag table; its setters write into `o`, which must outlive it.
tools::Flags make_flags(LoadOptions& o) {
    tools::Flags flags("herald-load", kSummary);
    add_target_and_shape_flags(flags, o);
    add_process_and_output_flags(flags, o);
    return flags;
}

// The flags checked against each other; derives procs and source_ips.
core::Status check_and_derive(LoadOptions& o) {
    if (o.groups > o.conns) return core::Error{"--groups cannot exceed --conns"};
    if (o.publishers > o.conns) return core::Error{"--publishers cannot exceed --conns"};
    if ((o.scenario == Scenario::kLatency || o.scenario == Scenario::kThroughput) &&
        o.publishers == 0) {
        return core::Error{"this scenario needs --publishers of at least 1"};
    }
    if (o.scenario == Scenario::kIdle && o.server_pids.empty()) {
        return core::Error{"the idle scenario reports the server's memory: give --server-pid"};
    }
    if (o.procs == 0) o.procs = (o.conns + 17999) / 18000;
    if (o.conns > 20000) o.source_ips = true;
    return {};
}

}  // namespace

core::Result<LoadOptions> parse_load_options(int argc, char** argv) {
    LoadOptions o;
    tools::Flags flags = make_flags(o);
    if (core::Status parsed = flags.parse(argc, argv); !parsed) return core::Error{parsed.error()};
    if (o.help) return o;
    if (core::Status checked = check_and_derive(o); !checked) return core::Error{checked.error()};
    return o;
}

std::string load_usage() {
    LoadOptions o;
    return make_flags(o).usage();
}

}  // namespace herald::load
