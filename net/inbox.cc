#include "net/inbox.h"

#include <poll.h>

#include <cstdio>

#include "net/log.h"

namespace herald::net {

core::Status Inbox::start(RecvMode mode, unsigned buffer_size) {
    poll_mode_ = !ops_.uring().has_buffer_ring();
    if (!poll_mode_) return {};
    if (mode == RecvMode::kRing) {
        return core::Error{
            "this kernel has no io_uring provided-buffer rings (Linux 5.19+): use "
            "--recv-mode poll or auto"};
    }
    if (mode == RecvMode::kAuto) {
        log_event(LogLevel::kWarn, "recv_fallback",
                  "reason=\"io_uring provided-buffer rings unavailable\" note=\"falling back to "
                  "poll + recv()\"");
    }
    buffer_size_ = buffer_size;
    poll_buffer_ = std::make_unique<std::uint8_t[]>(buffer_size + core::Block::kPadding);
    return {};
}

void Inbox::arm(ConnRef c) {
    if (poll_mode_) {
        ops_.prepare(c, Op::kPoll, [](io_uring_sqe* sqe, int target) {
            io_uring_prep_poll_multishot(sqe, target, POLLIN | POLLRDHUP);
        });
    } else {
        ops_.prepare(c, Op::kRecv, [](io_uring_sqe* sqe, int target) {
            io_uring_prep_recv_multishot(sqe, target, nullptr, 0, 0);
            sqe->flags |= IOSQE_BUFFER_SELECT;
            sqe->buf_group = Uring::kBufferGroup;
        });
    }
    c.conn.recv_armed = true;
}

}  // namespace herald::net
