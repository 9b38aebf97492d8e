// The NATS engine's flags (--engine, --nats-url, --nats-creds, --nats-ca, --nats-prefix,
// --nats-buffer),
// each declared with its [cluster] config-file key; docs/CLUSTER.md describes the engine.
#include <string_view>

#include "tools/herald/option_flags.h"

namespace herald::tools::detail {

void add_nats_flags(Flags& flags, HeraldOptions& o, Pending& p, Keys& k) {
    channel::HubOptions& hub = o.hub_options;
    flags.add("engine", "mesh|nats",
              "what carries publishes between hosts: mesh (default: the hubs'\n"
              "own TCP links, --cluster-listen and --peers) or nats (a NATS\n"
              "cluster, --nats-url; runs a hub)",
              text_flag(p.engine));
    key(k, "cluster", "engine", "engine", ConfigType::kString, Reload::kRestart,
        [](const HeraldOptions& x) -> std::string {
            return x.hub_options.engine == channel::Engine::kNats ? "nats" : "mesh";
        });
    flags.add("nats-url", "URL,...",
              "NATS servers for --engine nats, nats://HOST:PORT or tls://HOST:PORT\n"
              "(TLS to NATS); user:password@ or token@ before HOST authenticates",
              text_flag(p.nats_urls));
    key(k, "cluster", "nats-url", "nats-url", ConfigType::kList, Reload::kRestart,
        [](const HeraldOptions& x) {
            std::string out;
            for (const std::string& u : x.hub_options.nats_urls)
                out += (out.empty() ? "" : ",") + u;
            return out;
        });
    flags.add("nats-creds", "FILE",
              "NATS user credentials file (JWT and NKey seed) to connect with",
              text_flag(hub.nats_creds));
    key(k, "cluster", "nats-creds", "nats-creds", ConfigType::kString, Reload::kRestart,
        [](const HeraldOptions& x) { return x.hub_options.nats_creds; });
    flags.add("nats-ca", "FILE",
              "PEM CA certificates that verify tls:// NATS servers\n"
              "(default: the system's trusted CAs)",
              text_flag(hub.nats_ca));
    key(k, "cluster", "nats-ca", "nats-ca", ConfigType::kString, Reload::kRestart,
        [](const HeraldOptions& x) { return x.hub_options.nats_ca; });
    flags.add("nats-prefix", "PREFIX",
              "subject prefix of the groups' subjects (default\n"
              "herald.<cluster-name>.g.); a group's subject is PREFIX + its id\n"
              "in base64url",
              text_flag(hub.nats_prefix));
    key(k, "cluster", "nats-prefix", "nats-prefix", ConfigType::kString, Reload::kRestart,
        [](const HeraldOptions& x) { return x.hub_options.nats_prefix; });
    flags.add("nats-buffer", "BYTES",
              "publishes held while the NATS connection is down, and received\n"
              "messages waiting for the hub; beyond, dropped and reported\n"
              "(default 8MiB)",
              size_flag(p.nats_buffer, 64 * 1024, 1u << 30));
    key(k, "cluster", "nats-buffer", "nats-buffer", ConfigType::kSize, Reload::kRestart,
        [](const HeraldOptions& x) { return num(x.hub_options.nats_buffer); });
}

namespace {

// A subject prefix: dot-separated tokens of printable ASCII without '*' and '>', ending in '.'.
bool valid_prefix(std::string_view prefix) {
    if (prefix.size() < 2 || prefix.size() > 200 || prefix.front() == '.' || prefix.back() != '.')
        return false;
    char prev = 0;
    for (const char c : prefix) {
        if (c <= ' ' || c > '~' || c == '*' || c == '>' || (c == '.' && prev == '.')) return false;
        prev = c;
    }
    return true;
}

core::Status parse_urls(std::string_view rest, channel::HubOptions& hub) {
    while (!rest.empty()) {
        const std::size_t comma = rest.find(',');
        const std::string_view one = rest.substr(0, comma);
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
        if (one.empty()) continue;
        if (!one.starts_with("nats://") && !one.starts_with("tls://")) {
            return core::Error{"--nats-url: expected nats://HOST:PORT or tls://HOST:PORT, got '" +
                               std::string(one) + "'"};
        }
        hub.nats_urls.emplace_back(one);
    }
    return {};
}

}  // namespace

core::Status resolve_nats(const Pending& p, HeraldOptions& o) {
    channel::HubOptions& hub = o.hub_options;
    hub.nats_buffer = p.nats_buffer;
    if (p.engine == "nats") {
        hub.engine = channel::Engine::kNats;
    } else if (p.engine != "mesh") {
        return core::Error{"--engine: expected mesh or nats"};
    }
    if (core::Status urls = parse_urls(p.nats_urls, hub); !urls) return urls;
    if (hub.engine == channel::Engine::kMesh) {
        if (!hub.nats_urls.empty()) return core::Error{"--nats-url needs --engine nats"};
        return {};
    }
    if (hub.nats_urls.empty()) return core::Error{"--engine nats needs --nats-url"};
    if (hub.cluster_enabled)
        return core::Error{"--cluster-listen and --peers are for --engine mesh"};
    if (hub.nats_prefix.empty()) hub.nats_prefix = "herald." + hub.cluster + ".g.";
    if (!valid_prefix(hub.nats_prefix)) {
        return core::Error{
            "--nats-prefix: expected subject tokens of printable ASCII without '*' and '>', "
            "ending in '.'"};
    }
    return {};
}

}  // namespace herald::tools::detail
