// The worker's receive path: one multishot recv per connection into the io_uring provided-
// buffer ring, or, where the kernel lacks buffer rings (or --recv-mode poll), a multishot poll
// for readability and recv() into one loop-wide buffer. Bytes are handed on where they landed;
// the decrypting side of TLS belongs here.
#pragma once

#include <sys/socket.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/result.h"
#include "net/conn_ops.h"
#include "net/connection.h"
#include "net/server_options.h"
#include "net/uring.h"
#include "net/worker_stats.h"

namespace herald::net {

class Inbox {
  public:
    Inbox(ConnOps& ops, WorkerStats& stats) : ops_(ops), stats_(stats) {}

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
    template <class Input, class Gone>
    void on_completion(ConnRef c, int res, unsigned flags, Input&& input, Gone&& gone) {
        const bool more = (flags & IORING_CQE_F_MORE) != 0;
        if (!more) {
            c.conn.recv_armed = false;
            --c.conn.ops;
        }
        if (poll_mode_) {
            if (res < 0) return gone();
            drain(c, input, gone);
        } else if (res > 0) {
            const auto id = static_cast<std::uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT);
            input(ops_.uring().buffer(id), static_cast<std::size_t>(res));
            ops_.uring().recycle_buffer(id);
        } else if (res == -ENOBUFS) {
            // Every provided buffer is in use: they come back as this pass's completions are
            // handled, so re-arming now is safe.
            stats_.recv_no_buffers.add();
        } else {
            return gone();  // EOF (0), reset, or cancelled
        }
        if (!more && c.conn.state != ConnState::kAborting) arm(c);
    }

  private:
    // Poll mode: readable means recv() until it would block.
    template <class Input, class Gone>
    void drain(ConnRef c, Input& input, Gone& gone) {
        std::uint8_t* buf = poll_buffer_.get();
        while (c.conn.state != ConnState::kAborting) {
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
    WorkerStats& stats_;
    bool poll_mode_ = false;
    unsigned buffer_size_ = 0;
    std::unique_ptr<std::uint8_t[]> poll_buffer_;  // poll mode: one receive buffer for all
};

}  // namespace herald::net
