// The pieces the flag sections of herald's options share (tools/herald/options.cc and
// options_access.cc): values resolved after parsing, config-file keys, and flag setters. Not part
// of the options interface.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tools/cli.h"
#include "tools/herald/options.h"

namespace herald::tools::detail {

constexpr const char* kSeeHelp = " (see herald --help)";

// Flag values that are resolved after every flag is read: addresses, and sizes parsed wider
// than the field they end in.
struct Pending {
    std::string listen = "127.0.0.1:1234";
    std::string cluster_listen;
    std::string peers;
    std::string api_listen;
    const char* api_listen_flag = "--admin-listen";  // the name it was given by
    std::string stats_on_ws_port = "auto";
    std::uint64_t max_message = 0;
    std::uint64_t max_backpressure = 0;
    std::uint64_t recv_buffer_size = 0;
    std::uint64_t peer_buffer = 0;
    std::uint64_t nats_buffer = 0;
    std::string engine = "mesh";  // --engine
    std::string nats_urls;        // --nats-url LIST
    std::string jwt_key;          // --jwt-key FILE
    std::string jwt_audience;     // --jwt-audience AUD
    std::string allowed_origins;  // --allowed-origins LIST
};

using Keys = std::vector<OptionKey>;
using Getter = std::string (*)(const HeraldOptions&);

// One config-file key (see OptionKey): `flag`'s key `name` in [table] ("process" and friends).
inline void key(Keys& keys, std::string_view table, std::string_view name, std::string_view flag,
                ConfigType type, Reload reload, Getter value) {
    keys.push_back({ConfigKey{table, name, flag, type}, reload, value});
}

inline std::string num(std::uint64_t n) { return std::to_string(n); }

// The shortest exact text of a duration: "10s", "500ms", "5us", "7ns".
inline std::string dur(core::Nanos ns) {
    if (ns % core::kSecond == 0) return std::to_string(ns / core::kSecond) + "s";
    if (ns % core::kMillisecond == 0) return std::to_string(ns / core::kMillisecond) + "ms";
    if (ns % core::kMicrosecond == 0) return std::to_string(ns / core::kMicrosecond) + "us";
    return std::to_string(ns) + "ns";
}

inline std::string peers_text(const HeraldOptions& o) {
    std::string out;
    for (const net::Endpoint& e : o.hub_options.peers)
        out += (out.empty() ? "" : ",") + e.to_string();
    return out;
}

inline core::Error range_error(std::uint64_t min, std::uint64_t max) {
    return core::Error{"must be between " + std::to_string(min) + " and " + std::to_string(max)};
}

inline Flags::Setter size_flag(std::uint64_t& target, std::uint64_t min, std::uint64_t max) {
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

inline Flags::Setter text_flag(std::string& target) {
    return [&target](std::string_view v) -> core::Status {
        target = v;
        return {};
    };
}

// --admin-listen and its alias --api-listen: one address, named in errors as it was given.
inline Flags::Setter listen_alias_flag(Pending& p, const char* name) {
    return [&p, name](std::string_view v) -> core::Status {
        p.api_listen = v;
        p.api_listen_flag = name;
        return {};
    };
}

inline Flags::Setter duration_flag(core::Nanos& target) {
    return [&target](std::string_view v) -> core::Status {
        const std::optional<core::Nanos> n = parse_duration(v);
        if (!n || *n <= 0) return core::Error{"expected a positive duration such as 10s or 500ms"};
        target = *n;
        return {};
    };
}

inline Flags::Setter ring_size_flag(std::uint64_t& target) {
    return [&target](std::string_view v) -> core::Status {
        const std::optional<std::uint64_t> n = parse_size(v);
        if (!n || *n < 65536 || *n > (1ull << 30) || (*n & (*n - 1)) != 0) {
            return core::Error{"expected a power of two from 64KiB to 1GiB"};
        }
        target = *n;
        return {};
    };
}

inline Flags::Setter spin_flag(core::Nanos& target) {
    return [&target](std::string_view v) -> core::Status {
        const std::optional<core::Nanos> n = parse_duration(v);
        if (!n || *n > core::kSecond)
            return core::Error{"expected a duration up to 1s, such as 5us"};
        target = *n;
        return {};
    };
}

inline Flags::Setter recv_mode_flag(net::RecvMode& target) {
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

inline Flags::Setter recv_buffers_flag(unsigned& target) {
    return [&target](std::string_view v) -> core::Status {
        const std::optional<std::uint64_t> n = parse_uint(v);
        if (!n || *n == 0 || *n > 32768 || (*n & (*n - 1)) != 0) {
            return core::Error{"expected a power of two from 1 to 32768"};
        }
        target = static_cast<unsigned>(*n);
        return {};
    };
}

inline Flags::Setter log_level_flag(net::LogLevel& target) {
    return [&target](std::string_view v) -> core::Status {
        const std::optional<net::LogLevel> level = net::parse_log_level(v);
        if (!level) return core::Error{"expected debug, info, warn or error"};
        target = *level;
        return {};
    };
}

inline std::string recv_mode_text(net::RecvMode mode) {
    switch (mode) {
        case net::RecvMode::kRing:
            return "ring";
        case net::RecvMode::kPoll:
            return "poll";
        default:
            return "auto";
    }
}

inline Flags::Setter cluster_name_flag(std::string& target) {
    return [&target](std::string_view v) -> core::Status {
        if (v.empty() || v.size() > channel::kMaxClusterName) {
            return core::Error{"expected 1 to 255 bytes"};
        }
        target = v;
        return {};
    };
}

// The flag sections kept in options_access.cc: heartbeats and access, and TLS.
void add_access_flags(Flags& flags, HeraldOptions& o, Pending& p, Keys& k);
core::Status resolve_access(const Pending& p, HeraldOptions& o);
void add_tls_flags(Flags& flags, HeraldOptions& o, Keys& k);
// The NATS engine's flags (options_nats.cc), and their resolution into o.hub_options after
// the cluster flags (the error has no "see --help" yet).
void add_nats_flags(Flags& flags, HeraldOptions& o, Pending& p, Keys& k);
core::Status resolve_nats(const Pending& p, HeraldOptions& o);
// The kernel-path flags (options_kernel.cc): --zerocopy-threshold, --sqpoll, --busy-poll-us.
void add_kernel_flags(Flags& flags, HeraldOptions& o, Keys& k);

}  // namespace herald::tools::detail
