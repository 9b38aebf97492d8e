#include "tools/load/load_options.h"

#include <charconv>

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

// ws://HOST:PORT/PATH into its parts; "" or what is wrong.
std::string parse_url(std::string_view v, std::string& url, std::string& host,
                      std::uint16_t& port_out, std::string& path) {
    if (!v.starts_with("ws://")) return "only ws:// URLs are supported";
    std::string_view rest = v.substr(5);
    const auto slash = rest.find('/');
    const std::string_view hostport = rest.substr(0, slash);
    path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
    const auto colon = hostport.rfind(':');
    if (colon == std::string_view::npos) return "the URL needs a port";
    std::uint64_t port = 0;
    if (!tools::parse_uint(hostport.substr(colon + 1), port) || port == 0 || port > 65535) {
        return "bad port";
    }
    host = hostport.substr(0, colon);
    if (host == "localhost") host = "127.0.0.1";
    port_out = static_cast<std::uint16_t>(port);
    url = v;
    return "";
}

constexpr const char* kSummary =
    "herald-load - load generator and checker for WebSocket group broadcasters speaking the\n"
    "herald / Workerman Channel protocol (add_group, send_to_group).\n\n"
    "Connection i joins group i mod --groups; publisher p (connection p) sends to its group.\n"
    "Each message carries publisher id, sequence number and intended send time; receivers\n"
    "check loss, duplicates and per-publisher order. Membership is confirmed by probe round\n"
    "trips before measuring (never by sleeping).\n\n"
    "Scenarios (--scenario):\n"
    "  latency     open loop: --rate messages/s in total, spread over the publishers; latency\n"
    "              is measured from each message's intended send time, so a late sender or a\n"
    "              stalled server shows in the figures (no coordinated omission)\n"
    "  throughput  closed loop: at most --window messages in flight per group; the maximum\n"
    "              deliveries/s\n"
    "  idle        hold --conns connections in their groups for --duration and report the\n"
    "              server's resident memory per connection: (RSS at the end - RSS before\n"
    "              connecting) / connections; needs --server-pid and a freshly started server\n"
    "  churn       connect, join, publish, receive, close: --rate cycles per second\n\n"
    "Output: a progress line per second on stderr; a table on stdout; --json, --histogram\n"
    "(CSV percentile spectrum), --plot (PNG via gnuplot). Exit status: 0 ok, 1 loss,\n"
    "duplicates, reordering or errors seen, 2 bad usage, 3 membership never confirmed.";

}  // namespace

std::string parse_load_options(int argc, char** argv, LoadOptions& o, bool& help,
                               std::string& usage) {
    using tools::Flags;
    Flags flags("herald-load", kSummary);
    const auto uint_flag = [](std::uint32_t& target, std::uint64_t min, std::uint64_t max) {
        return [&target, min, max](std::string_view v) -> std::string {
            std::uint64_t n = 0;
            if (!tools::parse_uint(v, n) || n < min || n > max) {
                return "expected a whole number from " + std::to_string(min) + " to " +
                       std::to_string(max);
            }
            target = static_cast<std::uint32_t>(n);
            return "";
        };
    };
    const auto duration_flag = [](core::Nanos& target) {
        return [&target](std::string_view v) -> std::string {
            return tools::parse_duration(v, target) ? "" : "expected a duration such as 15s";
        };
    };
    flags.add("scenario", "NAME", "latency (default), throughput, idle or churn",
              [&](std::string_view v) -> std::string {
                  for (Scenario s : {Scenario::kLatency, Scenario::kThroughput, Scenario::kIdle,
                                     Scenario::kChurn}) {
                      if (v == scenario_name(s)) {
                          o.scenario = s;
                          return "";
                      }
                  }
                  return "expected latency, throughput, idle or churn";
              });
    flags.add("url", "ws://HOST:PORT/PATH", "server to load (default ws://127.0.0.1:1234/)",
              [&](std::string_view v) { return parse_url(v, o.url, o.host, o.port, o.path); });
    flags.add("publish-url", "ws://HOST:PORT/PATH",
              "publishers connect here instead of --url: another host of a\n"
              "herald cluster, to measure the hop between hosts",
              [&](std::string_view v) {
                  return parse_url(v, o.pub_url, o.pub_host, o.pub_port, o.pub_path);
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
              [&](std::string_view v) -> std::string {
                  double r = 0;
                  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), r);
                  if (ec != std::errc() || end != v.data() + v.size() || r <= 0) {
                      return "expected a positive number";
                  }
                  o.rate = r;
                  return "";
              });
    flags.add("window", "N", "throughput: messages in flight per group (default 32)",
              uint_flag(o.window, 1, 1'000'000));
    flags.add("duration", "DURATION", "measured time (default 15s)", duration_flag(o.duration));
    flags.add("warmup", "DURATION", "time before measuring (default 2s)", duration_flag(o.warmup));
    flags.add("drain", "DURATION", "longest wait for late deliveries at the end (default 5s)",
              duration_flag(o.drain));
    flags.add("confirm-timeout", "DURATION",
              "longest wait for every member to be confirmed (default 15s)",
              duration_flag(o.confirm_timeout));
    flags.section("Processes");
    flags.add("procs", "N", "load processes (default: one per 18,000 connections)",
              uint_flag(o.procs, 1, 250));
    flags.add_switch("source-ips",
                     "bind process k to 127.0.0.(2+k): past ~28,000 connections\n"
                     "one source address runs out of ports (on by default past 20,000)",
                     [&] { o.source_ips = true; });
    flags.section("Server figures");
    flags.add("server-pid", "PID",
              "the server's process (repeatable; its children are counted\n"
              "too): CPU time and resident memory",
              [&](std::string_view v) -> std::string {
                  std::uint64_t pid = 0;
                  if (!tools::parse_uint(v, pid) || pid == 0) return "expected a process id";
                  o.server_pids.push_back(static_cast<pid_t>(pid));
                  return "";
              });
    flags.section("Output");
    flags.add("json", "FILE", "write the results as JSON", [&](std::string_view v) {
        o.json_file = v;
        return std::string();
    });
    flags.add("histogram", "FILE", "write the latency percentile spectrum as CSV",
              [&](std::string_view v) {
                  o.histogram_file = v;
                  return std::string();
              });
    flags.add("plot", "FILE.png", "plot the latency spectrum with gnuplot",
              [&](std::string_view v) {
                  o.plot_file = v;
                  return std::string();
              });
    flags.add_switch("quiet", "no progress lines", [&] { o.quiet = true; });
    flags.add_switch("help", "print this help and exit", [&] { help = true; });
    usage = flags.usage();
    std::string err = flags.parse(argc, argv);
    if (!err.empty() || help) return err;
    if (o.groups > o.conns) return "--groups cannot exceed --conns";
    if (o.publishers > o.conns) return "--publishers cannot exceed --conns";
    if ((o.scenario == Scenario::kLatency || o.scenario == Scenario::kThroughput) &&
        o.publishers == 0) {
        return "this scenario needs --publishers of at least 1";
    }
    if (o.scenario == Scenario::kIdle && o.server_pids.empty()) {
        return "the idle scenario reports the server's memory: give --server-pid";
    }
    if (o.procs == 0) o.procs = (o.conns + 17999) / 18000;
    if (o.conns > 20000) o.source_ips = true;
    return "";
}

}  // namespace herald::load
