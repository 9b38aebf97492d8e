// The zero-copy half of the send path: IORING_OP_SEND_ZC for large frames, their blocks held
// until the kernel's notification says it no longer reads them (io_uring_prep_send_zc(3)).
#include <cerrno>

#include "net/fixed_buffers.h"
#include "net/outbox.h"

namespace herald::net {
namespace {

// IORING_SEND_ZC_REPORT_USAGE / IORING_NOTIF_USAGE_ZC_COPIED (Linux 6.2), absent from liburing
// 2.3's copy of the uapi header.
constexpr unsigned kReportUsage = 1u << 3;
constexpr std::uint32_t kUsageCopied = 1u << 31;

}  // namespace

Outbox::~Outbox() {
    for (ZcFlight& f : flights_) {
        if (f.block != nullptr) f.block->unref();
    }
}

void Outbox::set_zero_copy(std::uint32_t threshold, const FixedBuffers* fixed, WorkerStats* stats,
                           bool keep_copying) noexcept {
    zc_threshold_ = threshold;
    fixed_ = fixed;
    zc_stats_ = stats;
    zc_keep_copying_ = keep_copying;
}

void Outbox::start_zc_send(ConnRef c, const iovec& frame) {
    constexpr int kFlags = MSG_NOSIGNAL | MSG_WAITALL;
    Connection& conn = c.conn;
    core::Block* block = conn.out.head_block();
    std::uint32_t flight = 0;
    if (free_flights_.empty()) {
        flight = static_cast<std::uint32_t>(flights_.size());
        flights_.push_back({});
    } else {
        flight = free_flights_.back();
        free_flights_.pop_back();
    }
    block->ref();
    flights_[flight] = {c.slot, conns_.generation(c.slot), block};
    const int buffer = fixed_ != nullptr ? fixed_->index(block) : -1;
    io_uring_sqe* sqe = ops_.prepare(c, Op::kSend, [&](io_uring_sqe* s, int target) {
        if (buffer >= 0) {
            io_uring_prep_send_zc_fixed(s, target, frame.iov_base, frame.iov_len, kFlags,
                                        kReportUsage, static_cast<unsigned>(buffer));
        } else {
            io_uring_prep_send_zc(s, target, frame.iov_base, frame.iov_len, kFlags, kReportUsage);
        }
    });
    io_uring_sqe_set_data64(sqe, encode_user_data(Op::kSendZc, 0, flight));
    conn.inflight_frames = 1;
    conn.send_busy = true;
    ++conn.zc_pending;
    zc_stats_->zerocopy_sends.add();
}

void Outbox::end_flight(std::uint32_t flight) noexcept {
    ZcFlight& f = flights_[flight];
    f.block->unref();
    f.block = nullptr;
    free_flights_.push_back(flight);  // grows only with the most flights ever at once
}

Outbox::ZcCompletion Outbox::on_zc_cqe(std::uint32_t flight, int res, unsigned flags) noexcept {
    if (flight >= flights_.size() || flights_[flight].block == nullptr) return {nullptr, 0, false};
    const ZcFlight f = flights_[flight];
    Connection* conn = conns_.find(f.slot, f.generation);
    if (conn == nullptr) {  // cannot happen: the flight is counted in the slot's ops
        end_flight(flight);
        return {nullptr, 0, false};
    }
    if ((flags & IORING_CQE_F_NOTIF) == 0) {
        // The send's own completion: on_sent() takes one op off; keep one for the notification.
        if ((flags & IORING_CQE_F_MORE) != 0) {
            ++conn->ops;
        } else {
            --conn->zc_pending;
            end_flight(flight);
        }
        return {conn, f.slot, false};
    }
    --conn->ops;
    --conn->zc_pending;
    end_flight(flight);
    if ((static_cast<std::uint32_t>(res) & kUsageCopied) != 0) {
        zc_stats_->zerocopy_copied.add();
        if (!zc_keep_copying_ && conn->zc_copied < kZcCopiedLimit &&
            ++conn->zc_copied == kZcCopiedLimit) {
            zc_stats_->zerocopy_disabled.add();
        }
    } else if (conn->zc_copied < kZcCopiedLimit) {
        conn->zc_copied = 0;
    }
    return {conn, f.slot, true};
}

}  // namespace herald::net
