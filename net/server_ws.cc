// The protocol side of the worker loop: HTTP upgrade, WebSocket messages, group commands and
// the fan-out of send_to_group.
#include <ctime>
#include <string>
#include <utility>
#include <vector>

#include "net/http_answer.h"
#include "net/server.h"
#include "net/stats_json.h"
#include "net/ws_frame.h"

namespace herald::net {
namespace {

// GET /stats is not served on this port (answer_request: a 426 as for any plain GET).
const std::function<std::string()> kNoStats;

}  // namespace

// Receives what the WsReader parses for one connection.
struct Server::WsHandler {
    Server& server;
    ConnRef c;

    bool on_message(Opcode opcode, std::span<const std::uint8_t> payload) {
        if (c.conn.state != ConnState::kOpen) return true;  // closing: data is no longer acted on
        server.stats_->messages_in.add();
        if (opcode == Opcode::kBinary) return server.send_error(c, ErrorCode::kBinaryUnsupported);
        return server.on_command(c, payload);
    }

    bool on_ping(std::span<const std::uint8_t> payload) {
        if (c.conn.state != ConnState::kOpen) return true;
        core::Block* pong = make_frame(server.pool_, Opcode::kPong, payload);
        const bool queued = server.send_or_close(c, pong);
        pong->unref();
        return queued;
    }

    void on_close(std::uint16_t code, std::string_view /*reason*/) {
        c.conn.peer_closed = true;
        if (c.conn.state == ConnState::kOpen) {
            // Echo the peer's code; our close frame follows what is already queued.
            server.begin_close(c, code, {}, CloseMode::kGraceful);
        } else if (c.conn.state == ConnState::kClosing && Outbox::drained(c.conn)) {
            server.half_close(c);  // our close frame is already out
        }
    }
};

void Server::handshake_input(ConnRef c, std::uint8_t* data, std::size_t n) {
    const HeadSoFar head = gather_head(c.conn, data, n, pool_);
    if (c.conn.refused && (head.too_large || head.end != 0))
        return answer_http(c, busy_answer(pool_));
    if (head.too_large) return answer_http(c, too_large_answer(pool_));
    if (head.end == 0) return;
    core::Block* held = std::exchange(c.conn.head, nullptr);
    const RequestHead req =
        parse_request_head({reinterpret_cast<const char*>(head.bytes), head.end});
    answer_http(c, req.verdict == HeadVerdict::kUpgrade
                       ? admit_upgrade(c, req)
                       : answer_request(req, options_.worker_id, pool_,
                                        options_.stats_on_ws_port ? stats_renderer_ : kNoStats));
    // Bytes after the head are the client's first frames (it need not wait for the 101).
    if (c.conn.state == ConnState::kOpen && head.size > head.end) {
        ws_input(c, head.bytes + head.end, head.size - head.end);
    }
    if (held != nullptr) held->unref();
}

HttpAnswer Server::admit_upgrade(ConnRef c, const RequestHead& req) {
    const GateAnswer gate = gate_.admit(c.slot, c.conn.fd, req, std::time(nullptr));
    switch (gate.verdict) {
        case GateVerdict::kAdmitted:
            return answer_request(req, options_.worker_id, pool_, stats_renderer_);
        case GateVerdict::kOriginRefused:
            stats_->upgrades_refused_origin.add();
            break;
        case GateVerdict::kTokenRefused:
            stats_->upgrades_refused_auth.add();
            break;
        case GateVerdict::kOverIpLimit:
            stats_->upgrades_refused_per_ip.add();
            break;
    }
    return refusal_answer(pool_, gate.status, gate.reason);
}

void Server::answer_http(ConnRef c, HttpAnswer answer) {
    outbox_.push(c, answer.response);
    if (answer.outcome == HttpOutcome::kUpgrade) {
        stats_->upgrades.add();
        // Accepted at the handshake deadline less its timeout (set once, at accept).
        const core::Nanos accepted = c.conn.timer.deadline - options_.handshake_timeout;
        stats_->handshake.record(core::now_ns() - accepted);
        c.conn.state = ConnState::kOpen;
        c.conn.heard = false;
        return set_deadline(c, kPingTimer);  // from here on the heartbeat's deadlines
    }
    (answer.outcome == HttpOutcome::kPlain ? stats_->http_requests : stats_->http_errors).add();
    if (c.conn.head != nullptr) c.conn.head->unref();
    c.conn.head = nullptr;
    c.conn.state = ConnState::kHttpReply;
    set_deadline(c, kHandshakeTimer);
}

void Server::ws_input(ConnRef c, std::uint8_t* data, std::size_t n) {
    WsHandler handler{*this, c};
    const ReadResult r = c.conn.reader.consume(data, n, handler, pool_, ws_limits_);
    if (r.status != ReadStatus::kFailed) return;
    if (c.conn.state == ConnState::kOpen) {
        stats_->closes_protocol.add();
        begin_close(c, r.close_code, r.reason, CloseMode::kFail);
    } else if (c.conn.state == ConnState::kClosing) {
        c.conn.fail_fast = true;  // garbage instead of the peer's close frame: stop waiting
        if (Outbox::drained(c.conn)) half_close(c);
    }
}

bool Server::on_command(ConnRef c, std::span<const std::uint8_t> text) {
    const ParseResult r = parser_.parse(text);
    if (r.error != ErrorCode::kNone) return send_error(c, r.error);
    const Command& cmd = r.command;
    switch (cmd.kind) {
        case CommandKind::kAddGroup:
            if (const ConnectPermissions* p = gate_.permissions(c.slot);
                p != nullptr && !p->may_join(cmd.group_id)) {
                return send_error(c, ErrorCode::kForbidden);
            }
            if (!groups_.join(c.slot, cmd.group_id)) {
                return send_error(c, ErrorCode::kTooManyGroups);
            }
            break;
        case CommandKind::kLeaveGroup:
            groups_.leave(c.slot, cmd.group_id);
            break;
        case CommandKind::kSendToGroup: {
            if (const ConnectPermissions* p = gate_.permissions(c.slot);
                p != nullptr && !p->may_publish(cmd.group_id)) {
                return send_error(c, ErrorCode::kForbidden);
            }
            stats_->publishes.add();
            const std::span<const std::uint8_t> message{
                reinterpret_cast<const std::uint8_t*>(cmd.message.data()), cmd.message.size()};
            for (const std::uint32_t m :
                 groups_.send(cmd.group_id, message, pool_, outbox_, conns_)) {
                close_over_limit(conn(m));
            }
            if (relay_ != nullptr) relay_->publish(cmd.group_id, message);
            break;
        }
    }
    return c.conn.state == ConnState::kOpen;  // the sender may have been closed by its own fan-out
}

// One error frame (pre-encoded, shared). Past --max-errors failures in one error window the
// connection is closed with 1008 instead.
bool Server::send_error(ConnRef c, ErrorCode code) {
    stats_->commands_failed.add();
    Connection& conn = c.conn;
    // Milliseconds modulo 2^32: the unsigned difference is right across a wrap (49 days).
    const auto now_ms = static_cast<std::uint32_t>(now_ / core::kMillisecond);
    if (now_ms - conn.error_window_start_ms >= options_.error_window / core::kMillisecond) {
        conn.error_window_start_ms = now_ms;
        conn.errors = 0;
    }
    if (++conn.errors > options_.max_errors) {
        stats_->closes_flood.add();
        begin_close(c, close_code::kPolicyViolation, "too many failed commands",
                    CloseMode::kGraceful);
        return false;
    }
    return send_or_close(c, error_frames_[static_cast<std::size_t>(code)]);
}

bool Server::send_or_close(ConnRef c, core::Block* frame) {
    const SendStatus status = outbox_.enqueue(c, frame);
    if (status == SendStatus::kBackpressure) close_over_limit(c);
    return status == SendStatus::kQueued;
}

void Server::lost(std::uint32_t, std::string_view group) {
    std::vector<std::uint32_t> members;  // begin_close changes the member arrays
    groups_.collect_members(group, members);
    for (const std::uint32_t slot : members) {
        ConnRef c = conn(slot);
        if (c.conn.state != ConnState::kOpen) continue;
        stats_->closes_lost_remote.add();
        begin_close(c, close_code::kTryAgainLater, "messages lost between hosts",
                    CloseMode::kGraceful);
    }
}

void Server::lapped(std::uint32_t, std::uint64_t records) {
    stats_->records_lapped.add(records);
    std::vector<std::uint32_t> members;  // begin_close changes the member arrays
    groups_.collect_members({}, members);
    for (const std::uint32_t slot : members) {
        ConnRef c = conn(slot);
        if (c.conn.state != ConnState::kOpen) continue;
        stats_->closes_undeliverable.add();
        begin_close(c, close_code::kTryAgainLater, "messages lost on this host",
                    CloseMode::kGraceful);
    }
}

void Server::close_over_limit(ConnRef c) {
    stats_->closes_backpressure.add();
    begin_close(c, close_code::kPolicyViolation, "send queue over limit", CloseMode::kDropUnsent);
}

void Server::begin_close(ConnRef c, std::uint16_t code, std::string_view reason, CloseMode mode) {
    if (c.conn.state != ConnState::kOpen) return;
    groups_.leave_all(c.slot);
    if (mode != CloseMode::kGraceful) outbox_.drop_unsent(c.conn);
    outbox_.push(c, make_close_frame(pool_, code, reason));
    c.conn.state = ConnState::kClosing;
    c.conn.fail_fast = mode == CloseMode::kFail;
    set_deadline(c, kCloseTimer);
}

// Members refused for backpressure are closed after the fan-out (closing changes the member
// arrays it walks).
void Server::deliver(std::uint32_t /*from*/, std::string_view group, core::Block* frame) {
    stats_->remote_publishes.add();
    for (const std::uint32_t m : groups_.send(group, frame, outbox_, conns_)) {
        close_over_limit(conn(m));
    }
}

std::string Server::render_own_stats() const {
    const StatsEntry self{options_.worker_id, stats_, {}};
    return render_stats_json({&self, 1});
}

}  // namespace herald::net
