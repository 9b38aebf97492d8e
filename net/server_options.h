// Everything an operator can tune in one herald worker, with the defaults the docs promise.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/clock.h"
#include "net/connect_token.h"
#include "net/endpoint.h"
#include "net/origin_allow_list.h"
#include "net/tls_context.h"

namespace herald::net {

enum class RecvMode : std::uint8_t {
    kAuto,  // provided-buffer ring with multishot recv where the kernel has it, else kPoll
    kRing,  // require the buffer ring (fail start-up without it)
    kPoll,  // multishot poll for readability, then recv() into one loop buffer
};

struct ServerOptions {
    Endpoint listen;             // --listen (default 127.0.0.1:1234)
    bool reuse_port = false;     // several workers share the port
    unsigned worker_id = 0;      // shown as X-Herald-Worker
    bool handle_signals = true;  // SIGINT/SIGTERM stop the loop gracefully

    std::uint64_t max_message = 1u << 20;           // --max-message: close 1009 beyond
    std::uint64_t max_backpressure = 1u << 20;      // --max-backpressure: close 1008 beyond
    std::size_t max_group_id = 128;                 // --max-group-id (bytes)
    std::size_t max_groups_per_conn = 1024;         // --max-groups-per-conn
    std::uint32_t max_conns = 0;                    // --max-conns (0: what RLIMIT_NOFILE allows)
    std::uint32_t max_errors = 32;                  // --max-errors per error window
    core::Nanos error_window = 10 * core::kSecond;  // the window max_errors counts in

    core::Nanos handshake_timeout = 10 * core::kSecond;  // --handshake-timeout
    core::Nanos close_timeout = 1 * core::kSecond;       // --close-timeout: closing handshake
    core::Nanos tick = 100 * core::kMillisecond;         // timer resolution

    unsigned ring_entries = 4096;           // io_uring submission queue entries
    unsigned recv_buffers = 256;            // --recv-buffers (power of two)
    unsigned recv_buffer_size = 16 * 1024;  // --recv-buffer-size
    RecvMode recv_mode = RecvMode::kAuto;   // --recv-mode
    // --stats-on-ws-port: GET /stats answered on the WebSocket port; otherwise it gets the 426
    // of any plain GET (herald's flags default it to on only for a loopback --listen).
    bool stats_on_ws_port = true;

    // Heartbeats and dead peers (docs/OPERATIONS.md). idle_timeout > ping_interval.
    core::Nanos ping_interval = 25 * core::kSecond;  // --ping-interval: ping a silent connection
    core::Nanos idle_timeout = 60 * core::kSecond;   // --idle-timeout: close it (1001) after

    // Who may upgrade (net/upgrade_gate.h).
    OriginAllowList allowed_origins;                  // --allowed-origins (default: any)
    std::shared_ptr<const ConnectTokenVerifier> jwt;  // --jwt-key/--jwt-audience; null: open
    std::uint32_t max_conns_per_ip = 0;               // --max-conns-per-ip (0: unlimited)

    TlsFiles tls;  // --tls-cert / --tls-key / --tls-ca: wss:// when cert is set

    // Kernel paths (docs/KERNEL_BYPASS.md, net/server_kernel.cc).
    // --zerocopy-threshold: frames of at least this many bytes go out with IORING_OP_SEND_ZC;
    // kZeroCopyOff: never; kZeroCopyAuto: kZeroCopyAutoThreshold except over loopback and veth.
    static constexpr std::uint32_t kZeroCopyOff = 0;
    static constexpr std::uint32_t kZeroCopyAuto = UINT32_MAX;
    static constexpr std::uint32_t kZeroCopyAutoThreshold = 16 * 1024;
    std::uint32_t zerocopy_threshold = kZeroCopyAuto;
    bool sqpoll = false;        // --sqpoll: IORING_SETUP_SQPOLL
    int sqpoll_cpu = -1;        // --sqpoll=CPU: the SQ thread's CPU (-1: the kernel's choice)
    unsigned busy_poll_us = 0;  // --busy-poll-us: NAPI busy polling while waiting (0: off)
};

}  // namespace herald::net
