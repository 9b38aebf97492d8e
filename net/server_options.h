// Everything an operator can tune in one herald worker, with the defaults the docs promise.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/clock.h"
#include "net/endpoint.h"
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

    TlsFiles tls;  // --tls-cert / --tls-key / --tls-ca: wss:// when cert is set
};

}  // namespace herald::net
