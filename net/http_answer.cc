#include "net/http_answer.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "net/http_handshake.h"

namespace herald::net {
namespace {

core::Block* copy_to_block(core::BlockPool& pool, std::string_view bytes) {
    core::Block* block = pool.acquire(bytes.size());
    std::memcpy(block->data(), bytes.data(), bytes.size());
    block->size = static_cast<std::uint32_t>(bytes.size());
    return block;
}

HttpAnswer reply(core::BlockPool& pool, HttpOutcome outcome, int status, std::string_view type,
                 std::string_view body) {
    return {outcome, copy_to_block(pool, http_response(status, type, body))};
}

}  // namespace

HeadSoFar gather_head(Connection& c, std::uint8_t* data, std::size_t n, core::BlockPool& pool) {
    HeadSoFar head{data, n, 0, false};
    if (c.head != nullptr) {
        const std::size_t have = c.head->size;
        c.head = pool.grow(c.head, have + n, have);
        std::memcpy(c.head->data() + have, data, n);
        c.head->size = static_cast<std::uint32_t>(have + n);
        head.bytes = c.head->data();
        head.size = c.head->size;
    }
    std::size_t scan = c.head_scan;
    head.end = find_head_end(head.bytes, head.size, scan);
    c.head_scan = static_cast<std::uint32_t>(scan);
    head.too_large = head.end == 0 ? head.size > kMaxRequestHead : head.end > kMaxRequestHead;
    if (head.end == 0 && !head.too_large && c.head == nullptr) {
        c.head = pool.acquire(std::max<std::size_t>(2 * n, 256));
        std::memcpy(c.head->data(), data, n);
        c.head->size = static_cast<std::uint32_t>(n);
    }
    return head;
}

HttpAnswer answer_request(std::string_view head, unsigned worker_id, core::BlockPool& pool,
                          const std::function<std::string()>& render_stats) {
    return answer_request(parse_request_head(head), worker_id, pool, render_stats);
}

HttpAnswer answer_request(const RequestHead& req, unsigned worker_id, core::BlockPool& pool,
                          const std::function<std::string()>& render_stats) {
    switch (req.verdict) {
        case HeadVerdict::kUpgrade: {
            char worker[48];
            std::snprintf(worker, sizeof worker, "X-Herald-Worker: %u\r\n", worker_id);
            return {HttpOutcome::kUpgrade,
                    copy_to_block(pool, switching_protocols_response(req.key, worker))};
        }
        case HeadVerdict::kPlain:
            if (render_stats && (req.target == "/stats" || req.target.starts_with("/stats?"))) {
                return reply(pool, HttpOutcome::kPlain, 200, "application/json", render_stats());
            }
            return reply(pool, HttpOutcome::kPlain, 426, "text/plain",
                         "herald: this is a WebSocket endpoint; connect with a WebSocket client\n");
        case HeadVerdict::kBadRequest:
            return reply(pool, HttpOutcome::kError, 400, "text/plain",
                         std::string(req.reason) + "\n");
        case HeadVerdict::kMethodNotAllowed:
            return reply(pool, HttpOutcome::kError, 405, "text/plain", "only GET is served here\n");
        case HeadVerdict::kUpgradeRequired:
            return reply(pool, HttpOutcome::kError, 426, "text/plain",
                         "Sec-WebSocket-Version must be 13\n");
    }
    return reply(pool, HttpOutcome::kError, 400, "text/plain", "bad request\n");
}

HttpAnswer busy_answer(core::BlockPool& pool) {
    return reply(pool, HttpOutcome::kError, 503, "text/plain",
                 "connection limit reached (--max-conns); retry later\n");
}

HttpAnswer refusal_answer(core::BlockPool& pool, int status, std::string_view reason) {
    return reply(pool, HttpOutcome::kError, status, "text/plain", std::string(reason) + "\n");
}

HttpAnswer tls_required_answer(core::BlockPool& pool) {
    return reply(pool, HttpOutcome::kError, 400, "text/plain",
                 "this port speaks TLS: use https:// or wss://\n");
}

HttpAnswer too_large_answer(core::BlockPool& pool) {
    return reply(pool, HttpOutcome::kError, 431, "text/plain", "request head larger than 8 KiB\n");
}

}  // namespace herald::net
