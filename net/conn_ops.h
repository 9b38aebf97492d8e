// How the loop issues io_uring operations that name a connection: the one place that knows
// their target (registered-file index or descriptor), their user_data and their accounting.
#pragma once

#include <cstdint>

#include "core/slab.h"
#include "net/connection.h"
#include "net/uring.h"
#include "net/user_data.h"

namespace herald::net {

class ConnOps {
  public:
    ConnOps(Uring& uring, const core::Slab<Connection>& conns) : uring_(uring), conns_(conns) {}

    // Whether connections live in the registered-file table (slot i holds connection i's fd).
    void set_fixed_files(bool on) noexcept { fixed_files_ = on; }
    bool fixed_files() const noexcept { return fixed_files_; }

    // Takes an SQE, lets prep(sqe, target) fill it (an io_uring_prep_* call on `target`: the
    // fixed-file index or the fd), then adds IOSQE_FIXED_FILE where it applies, tags it with
    // `op`, c's slot and generation (net/user_data.h) and counts it in c.conn.ops, which the
    // completion handler must decrement. Returns the SQE for extra flags.
    template <class Prep>
    io_uring_sqe* prepare(ConnRef c, Op op, Prep&& prep) {
        io_uring_sqe* sqe = uring_.sqe();
        prep(sqe, fixed_files_ ? static_cast<int>(c.slot) : c.conn.fd);
        if (fixed_files_) sqe->flags |= IOSQE_FIXED_FILE;
        io_uring_sqe_set_data64(sqe, user_data(op, c.slot));
        ++c.conn.ops;
        return sqe;
    }

    // user_data naming `op` on the connection now in `slot`.
    std::uint64_t user_data(Op op, std::uint32_t slot) const noexcept {
        return encode_user_data(op, conns_.generation(slot), slot);
    }

    Uring& uring() noexcept { return uring_; }

  private:
    Uring& uring_;
    const core::Slab<Connection>& conns_;
    bool fixed_files_ = false;
};

}  // namespace herald::net
