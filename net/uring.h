// A thin owner of one io_uring: set-up with the fastest flags the kernel takes, the registered
// file table, the provided-buffer ring for receives, and submission that never loses an SQE.
#pragma once

#include <liburing.h>

#include <cstddef>
#include <cstdint>

#include "core/result.h"

namespace herald::net {

struct UringConfig {
    unsigned entries = 4096;        // submission queue size (completion queue is 4x)
    unsigned registered_files = 0;  // size of the sparse fixed-file table (0: none)
    unsigned recv_buffers = 0;      // provided buffers for multishot recv (power of two)
    unsigned recv_buffer_size = 0;  // bytes each
};

// One ring per thread. Set-up tries IORING_SETUP_SINGLE_ISSUER|DEFER_TASKRUN (completions run
// only when the loop asks, no interrupts of user code), then COOP_TASKRUN, then plain.
class Uring {
  public:
    Uring() = default;
    ~Uring();
    Uring(const Uring&) = delete;
    Uring& operator=(const Uring&) = delete;

    // Sets the ring up. An error is one line naming the cause and the fix.
    core::Status init(const UringConfig& config);

    // An SQE, submitting pending ones first if the queue is full. Never null.
    io_uring_sqe* sqe();

    // Submits what is queued and collects completions without waiting. Hot path (every loop
    // pass): returns false on an unexpected error with its errno in `error`, true otherwise
    // (EINTR, EAGAIN and EBUSY included), so no error string is ever built.
    bool submit(int& error);
    // Submits what is queued and waits until at least one completion is ready; returns as
    // submit() does.
    bool submit_and_wait(int& error);

    io_uring* ring() noexcept { return &ring_; }
    const char* setup_mode() const noexcept { return setup_mode_; }

    // Provided buffers (IORING_REGISTER_PBUF_RING). has_buffer_ring() is false when the kernel
    // lacks them; the loop then falls back to poll + recv().
    static constexpr std::uint16_t kBufferGroup = 1;
    bool has_buffer_ring() const noexcept { return buf_ring_ != nullptr; }
    std::uint8_t* buffer(std::uint16_t id) noexcept {
        return buffers_ + std::size_t{id} * buf_size_;
    }
    unsigned buffer_size() const noexcept { return buf_size_; }
    // Hands buffer `id` back to the kernel (visible after the next publish_buffers()).
    void recycle_buffer(std::uint16_t id) noexcept;
    void publish_buffers() noexcept;
    // Gives the receive buffers' memory back to the kernel (their contents are not needed:
    // every buffer is in the ring, waiting). They fault back in as data arrives. Call it only
    // between io_uring_enter calls: with DEFER_TASKRUN nothing writes them then.
    void release_buffer_memory() noexcept;

    // Puts `fd` in fixed-file slot `slot` (-1 clears it). Returns 0 or -errno.
    int register_file(unsigned slot, int fd) noexcept;
    bool has_registered_files() const noexcept { return files_registered_; }

  private:
    core::Status setup_buffer_ring(unsigned count, unsigned size);

    io_uring ring_{};
    bool initialized_ = false;
    const char* setup_mode_ = "";
    bool files_registered_ = false;

    io_uring_buf_ring* buf_ring_ = nullptr;
    std::size_t buf_ring_bytes_ = 0;
    std::uint8_t* buffers_ = nullptr;
    std::size_t buffers_bytes_ = 0;
    unsigned buf_count_ = 0;
    unsigned buf_size_ = 0;
    unsigned pending_recycles_ = 0;
};

}  // namespace herald::net
