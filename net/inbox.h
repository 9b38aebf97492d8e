// The worker's receive path: one multishot recv per connection into the io_uring provided-
// buffer ring, or, where the kernel lacks buffer rings (or --recv-mode poll), a multishot poll
// for readability and recv() into one loop-wide buffer. Bytes are handed on where they landed;
// the decrypting side of TLS belongs here.
//
// Backpressure: while the worker is congested (set_holding), input is held back instead of
// handed on, in arrival order across the worker, so no new command is taken from any client and
// TCP pushes back on publishers. Ring mode holds the provided buffers themselves: when the ring
// runs dry the kernel ends the multishot receives (ENOBUFS) and they are re-armed only once
// everything held was handed on; so what is held is bounded by --recv-buffers x
// --recv-buffer-size. Poll mode holds one "readable" mark per connection and reads nothing.
#pragma once

#include <sys/socket.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "core/result.h"
#include "core/slab.h"
#include "net/conn_ops.h"
#include "net/connection.h"
#include "net/server_options.h"
#include "net/uring.h"
#include "net/worker_stats.h"

namespace herald::net {

class Inbox {
  public:
    Inbox(ConnOps& ops, core::Slab<Connection>& conns, WorkerStats& stats)
        : ops_(ops), conns_(conns), stats_(stats) {}

    // After the ring's set-up: the provided-buffer ring where it has one, else poll + recv()
    // into one buffer of buffer_size bytes (logged when `mode` is kAuto). An error line when
    // `mode` is kRing and the kernel has no buffer rings.
    core::Status start(RecvMode mode, unsigned buffer_size);
    bool poll_mode() const noexcept { return poll_mode_; }
    const char* mode_name() const noexcept {
        return poll_mode_ ? "poll + recv()" : "multishot recv, provided-buffer ring";
    }

    // Arms c's multishot receive (Op::kRecv) or poll (Op::kPoll).
    void arm(ConnRef c);

    // A kRecv or kPoll completion (res, flags) for c. Calls input(data, n) for each piece that
    // arrived (data stays valid only during the call), gone() when the peer is gone (EOF,
    // reset, cancelled; the caller aborts c, which stops input), and re-arms c when its multishot
    // ended and c is not aborting. Buffers go back to the ring (visible after publish_buffers()).
    // While paused() the piece (or the end) is held instead, and c is not re-armed.
    template <class Input, class Gone>
    void on_completion(ConnRef c, int res, unsigned flags, Input&& input, Gone&& gone) {
        const bool more = (flags & IORING_CQE_F_MORE) != 0;
        if (!more) {
            c.conn.recv_armed = false;
            --c.conn.ops;
        }
        if (poll_mode_) {
            if (res < 0) return gone();
            if (paused()) {
                hold(c, Held::kReadable);
            } else {
                drain(c, input, gone);
            }
        } else if (res > 0) {
            const auto id = static_cast<std::uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT);
            if (paused()) {
                hold(c, Held::kData, id, static_cast<std::uint32_t>(res));
            } else {
                input(ops_.uring().buffer(id), static_cast<std::size_t>(res));
                ops_.uring().recycle_buffer(id);
            }
        } else if (res == -ENOBUFS) {
            // Every provided buffer is in use: they come back as this pass's completions are
            // handled (or, while paused, as held input is handed on), so re-arming then is safe.
            stats_.recv_no_buffers.add();
        } else if (paused() && c.conn.state != ConnState::kAborting) {
            return hold(c, Held::kGone);  // after what is held before it
        } else {
            return gone();  // EOF (0), reset, or cancelled
        }
        if (!more && c.conn.state != ConnState::kAborting) {
            if (paused()) {
                paused_.push_back({c.slot, conns_.generation(c.slot)});
            } else {
                arm(c);
            }
        }
    }

    // Holding: true while the worker is congested (the loop sets it each pass, and as soon as
    // an input made it congested).
    void set_holding(bool on) noexcept { holding_ = on; }
    // Input is held back: holding, or what was held is not all handed on yet.
    bool paused() const noexcept { return holding_ || !held_.empty(); }
    bool has_held() const noexcept { return !held_.empty(); }

    // Not holding: hands held input on in arrival order (input(c, data, n), gone(c), then
    // after(c) for each), stopping as soon as holding starts again; once all is handed on,
    // re-arms every paused connection that is still open.
    template <class Input, class Gone, class After>
    void release(Input&& input, Gone&& gone, After&& after) {
        while (!held_.empty() && !holding_) {
            const Held h = held_.front();
            held_.pop_front();
            Connection* conn = conns_.find(h.slot, h.generation);
            if (conn != nullptr) {
                const ConnRef c{*conn, h.slot};
                if (h.kind == Held::kReadable) conn->read_held = false;
                if (conn->state != ConnState::kAborting) {
                    hand_on(c, h, input, gone);
                    after(c);
                }
            }
            if (h.kind == Held::kData) ops_.uring().recycle_buffer(h.buffer);
        }
        if (paused()) return;
        for (const Paused& p : paused_) {
            Connection* conn = conns_.find(p.slot, p.generation);
            if (conn == nullptr || conn->state == ConnState::kAborting || conn->recv_armed)
                continue;
            arm({*conn, p.slot});
        }
        paused_.clear();
    }

  private:
    struct Held {
        enum Kind : std::uint8_t { kData, kReadable, kGone };
        std::uint32_t slot;
        std::uint32_t generation;
        Kind kind;
        std::uint16_t buffer;  // kData: the provided buffer, `length` bytes
        std::uint32_t length;
    };
    struct Paused {
        std::uint32_t slot;
        std::uint32_t generation;
    };

    void hold(ConnRef c, Held::Kind kind, std::uint16_t buffer = 0, std::uint32_t length = 0) {
        if (kind == Held::kReadable) {
            if (c.conn.read_held) return;  // one mark per connection: the kernel keeps the bytes
            c.conn.read_held = true;
        }
        held_.push_back({c.slot, conns_.generation(c.slot), kind, buffer, length});
    }

    template <class Input, class Gone>
    void hand_on(ConnRef c, const Held& h, Input& input, Gone& gone) {
        if (h.kind == Held::kData) return input(c, ops_.uring().buffer(h.buffer), h.length);
        if (h.kind == Held::kGone) return gone(c);
        auto in = [&](std::uint8_t* data, std::size_t n) { input(c, data, n); };
        auto out = [&] { gone(c); };
        drain(c, in, out);
    }

    // Poll mode: readable means recv() until it would block (or until holding starts: then the
    // rest waits, marked readable).
    template <class Input, class Gone>
    void drain(ConnRef c, Input& input, Gone& gone) {
        std::uint8_t* buf = poll_buffer_.get();
        while (c.conn.state != ConnState::kAborting) {
            if (holding_) return hold(c, Held::kReadable);
            const ssize_t n = ::recv(c.conn.fd, buf, buffer_size_, MSG_DONTWAIT);
            if (n > 0) {
                input(buf, static_cast<std::size_t>(n));
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
            gone();  // EOF or error
        }
    }

    ConnOps& ops_;
    core::Slab<Connection>& conns_;
    WorkerStats& stats_;
    bool holding_ = false;
    std::deque<Held> held_;       // input held back, in arrival order
    std::vector<Paused> paused_;  // connections whose multishot ended while paused
    bool poll_mode_ = false;
    unsigned buffer_size_ = 0;
    std::unique_ptr<std::uint8_t[]> poll_buffer_;  // poll mode: one receive buffer for all
};

}  // namespace herald::net
