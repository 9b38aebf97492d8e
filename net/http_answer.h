// The worker's HTTP side: a request head gathered across reads, and the answer it gets (a 101
// upgrade, GET /stats, or a 4xx). The loop only writes the answer and moves the connection on.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "core/block.h"
#include "net/connection.h"
#include "net/http_handshake.h"

namespace herald::net {

// What a request head came to, for the worker's counters and the connection's next state.
enum class HttpOutcome : std::uint8_t {
    kUpgrade,  // 101 Switching Protocols: the connection becomes a WebSocket
    kPlain,    // a plain GET answered (GET /stats, or 426 for a non-WebSocket client)
    kError,    // 4xx: a malformed, refused or too large request (RFC 9110 section 15.5)
};

struct HttpAnswer {
    HttpOutcome outcome;
    core::Block* response;  // the bytes to write, in a pool block (one reference, the caller's)
};

// c's request head after `data` (n bytes) arrived. A head that arrives whole in one read (the
// usual case) is judged in place in `data`; one that arrives in pieces is gathered in a pool
// block held in c.head (c.head_scan carries the search for its end).
struct HeadSoFar {
    std::uint8_t* bytes;  // the head and the bytes after it: `data`, or c.head's bytes
    std::size_t size;     // bytes at `bytes`
    std::size_t end;      // the head's length (find_head_end); 0: not complete yet
    bool too_large;       // longer than kMaxRequestHead: answer it with too_large_answer()
};
HeadSoFar gather_head(Connection& c, std::uint8_t* data, std::size_t n, core::BlockPool& pool);

// The answer to a complete request head (net/http_handshake.h judges it). worker_id is sent as
// X-Herald-Worker with a 101; render_stats gives GET /stats its JSON body (when empty, GET
// /stats is answered as any other plain GET: 426).
HttpAnswer answer_request(std::string_view head, unsigned worker_id, core::BlockPool& pool,
                          const std::function<std::string()>& render_stats);

// 503 Service Unavailable with Retry-After: 1, for a client over --max-conns.
HttpAnswer busy_answer(core::BlockPool& pool);
// The same, for a head already judged by parse_request_head (views into the head's bytes).
HttpAnswer answer_request(const RequestHead& req, unsigned worker_id, core::BlockPool& pool,
                          const std::function<std::string()>& render_stats);

// An upgrade the gate refused (net/upgrade_gate.h): `status` (401, 403 or 503) with `reason`
// as its one-line plain-text body; outcome kError.
HttpAnswer refusal_answer(core::BlockPool& pool, int status, std::string_view reason);

// 431 for a head longer than kMaxRequestHead.
HttpAnswer too_large_answer(core::BlockPool& pool);

// 400 for a plain HTTP request on a wss:// listener: one line saying the port speaks TLS. The
// bytes go out unencrypted (the client speaks no TLS).
HttpAnswer tls_required_answer(core::BlockPool& pool);

}  // namespace herald::net
