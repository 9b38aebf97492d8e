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
    bool sqpoll = false;            // --sqpoll: IORING_SETUP_SQPOLL (a kernel submission thread)
    int sqpoll_cpu = -1;            // --sqpoll=CPU: IORING_SETUP_SQ_AFF on this CPU (-1: any)
    unsigned busy_poll_us = 0;      // --busy-poll-us: IORING_REGISTER_NAPI busy_poll_to (0: off)
};

// One ring per thread. Set-up tries IORING_SETUP_SINGLE_ISSUER|DEFER_TASKRUN (completions run
// only when the loop asks, no interrupts of user code), then COOP_TASKRUN, then plain. With
// config.sqpoll it tries SQPOLL (which excludes the task-run flags) first and falls back to those
// when the kernel refuses it; liburing's submit calls wake the SQ thread (IORING_SQ_NEED_WAKEUP).
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
    // Under SQPOLL, waits until the kernel thread has taken every submitted SQE (and so copied
    // what they point to: msghdrs, iovecs); nothing otherwise. Data an SQE points to is stable
    // after io_uring_submit returns only without SQPOLL: the loop calls this before it reuses
    // such memory (the Outbox's per-pass arena).
    void wait_consumed() noexcept {
        if (sqpoll_) wait_sq_empty();
    }
    // Submits what is queued and waits until at least one completion is ready; returns as
    // submit() does.
    bool submit_and_wait(int& error);

    io_uring* ring() noexcept { return &ring_; }
    const char* setup_mode() const noexcept { return setup_mode_; }
    bool sqpoll() const noexcept { return sqpoll_; }
    // Why config.sqpoll did not take effect ("" when it did or was not asked for).
    const char* sqpoll_failure() const noexcept { return sqpoll_failure_; }
    // The result of IORING_REGISTER_NAPI for config.busy_poll_us: 0, or -errno (-EINVAL on
    // kernels before 6.9, which lack it). 1 when not asked for.
    int napi_result() const noexcept { return napi_result_; }

    // Whether the ring takes IORING_OP_SEND_ZC with IORING_SEND_ZC_REPORT_USAGE (the opcode in
    // the ring's probe and Linux >= 6.2). HERALD_TEST_NO_SEND_ZC=1 in the environment makes it
    // false (the tests' stand-in for an older kernel).
    bool probe_send_zc() noexcept;

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
    // between io_uring_enter calls: with DEFER_TASKRUN nothing writes them then. Nothing
    // under SQPOLL (the kernel thread fills buffers at any time).
    void release_buffer_memory() noexcept;

    // Puts `fd` in fixed-file slot `slot` (-1 clears it). Returns 0 or -errno.
    int register_file(unsigned slot, int fd) noexcept;
    bool has_registered_files() const noexcept { return files_registered_; }

  private:
    core::Status setup_buffer_ring(unsigned count, unsigned size);
    // Tries the ring set-ups in order; 0 or the last -errno.
    int setup(const UringConfig& config);
    void register_napi(unsigned busy_poll_us) noexcept;
    void wait_sq_empty() noexcept;

    io_uring ring_{};
    bool initialized_ = false;
    const char* setup_mode_ = "";
    const char* sqpoll_failure_ = "";
    bool sqpoll_ = false;
    unsigned features_ = 0;
    int napi_result_ = 1;
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
