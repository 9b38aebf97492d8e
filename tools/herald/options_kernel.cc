// herald's flags for the kernel paths (docs/KERNEL_BYPASS.md): zero-copy sends, SQPOLL and NAPI
// busy polling, each with its config-file key in [listen].
#include <string>

#include "tools/cli.h"
#include "tools/herald/option_flags.h"

namespace herald::tools::detail {
namespace {

using net::ServerOptions;

Flags::Setter zerocopy_flag(std::uint32_t& target) {
    return [&target](std::string_view v) -> core::Status {
        if (v == "off") {
            target = ServerOptions::kZeroCopyOff;
        } else if (v == "auto") {
            target = ServerOptions::kZeroCopyAuto;
        } else {
            const std::optional<std::uint64_t> n = parse_size(v);
            if (!n || *n == 0 || *n > (1u << 30)) {
                return core::Error{"expected off, auto or a size from 1 to 1GiB such as 16KiB"};
            }
            target = static_cast<std::uint32_t>(*n);
        }
        return {};
    };
}

std::string zerocopy_text(std::uint32_t threshold) {
    if (threshold == ServerOptions::kZeroCopyOff) return "off";
    if (threshold == ServerOptions::kZeroCopyAuto) return "auto";
    return num(threshold);
}

// --sqpoll (the kernel picks the CPU), --sqpoll=CPU, and the config file's on / off / CPU.
Flags::Setter sqpoll_flag(ServerOptions& s) {
    return [&s](std::string_view v) -> core::Status {
        if (v.empty() || v == "on" || v == "off") {
            s.sqpoll = v != "off";
            s.sqpoll_cpu = -1;
            return {};
        }
        const std::optional<std::uint64_t> cpu = parse_uint(v);
        if (!cpu || *cpu > 4095) return core::Error{"expected a CPU number (0 to 4095), on or off"};
        s.sqpoll = true;
        s.sqpoll_cpu = static_cast<int>(*cpu);
        return {};
    };
}

std::string sqpoll_text(const ServerOptions& s) {
    if (!s.sqpoll) return "off";
    return s.sqpoll_cpu < 0 ? "on" : std::to_string(s.sqpoll_cpu);
}

}  // namespace

void add_kernel_flags(Flags& flags, HeraldOptions& o, Keys& k) {
    net::ServerOptions& s = o.server;
    flags.add("zerocopy-threshold", "BYTES|off|auto",
              "frames of at least BYTES go out with io_uring SEND_ZC (zero-copy,\n"
              "from registered buffers); auto (default): 16KiB, but off for\n"
              "connections over loopback or veth, where the kernel copies anyway;\n"
              "a connection whose sends the kernel keeps copying stops using it",
              zerocopy_flag(s.zerocopy_threshold));
    key(k, "listen", "zerocopy-threshold", "zerocopy-threshold", ConfigType::kString,
        Reload::kRestart,
        [](const HeraldOptions& x) { return zerocopy_text(x.server.zerocopy_threshold); });
    flags.add_optional("sqpoll", "CPU",
                       "a kernel thread polls each worker's submission queue (on CPU\n"
                       "when given): for machines with a spare core per worker; on 2\n"
                       "cores it doubles the CPU per delivery (docs/PERFORMANCE.md)",
                       sqpoll_flag(s));
    key(k, "listen", "sqpoll", "sqpoll", ConfigType::kString, Reload::kRestart,
        [](const HeraldOptions& x) { return sqpoll_text(x.server); });
    flags.add("busy-poll-us", "N",
              "busy-poll the NIC's queues for up to N us while waiting for\n"
              "completions (IORING_REGISTER_NAPI, Linux 6.9+; default 0: off)",
              uint_flag(s.busy_poll_us, 0, 1000000));
    key(k, "listen", "busy-poll-us", "busy-poll-us", ConfigType::kInteger, Reload::kRestart,
        [](const HeraldOptions& x) { return num(x.server.busy_poll_us); });
}

}  // namespace herald::tools::detail
