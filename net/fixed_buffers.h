// The block pool's large blocks registered with io_uring as fixed buffers
// (io_uring_register_buffers(3)), so zero-copy sends of the frames they hold skip the per-send
// page pinning (IORING_OP_SEND_ZC with IORING_RECVSEND_FIXED_BUF, io_uring_prep_send_zc_fixed(3)).
//
// The table is sparse: a block gets a slot when the pool allocates it and loses it when the pool
// frees it (core::BlockHooks), so a cached block keeps its registration across reuse. A block the
// kernel would not register (the slots are all taken, or RLIMIT_MEMLOCK) simply has no slot:
// its frames go out with plain SEND_ZC.
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "core/block.h"
#include "net/uring.h"

namespace herald::net {

class FixedBuffers final : public core::BlockHooks {
  public:
    explicit FixedBuffers(Uring& uring) : uring_(uring) {}
    FixedBuffers(const FixedBuffers&) = delete;
    FixedBuffers& operator=(const FixedBuffers&) = delete;

    // Registers a sparse table of `slots` buffers. false (and nothing registered) when the
    // kernel refuses it; `error` is then its errno.
    bool init(unsigned slots, int& error) noexcept;

    // The table slot of `block`'s memory, or -1 when it has none.
    int index(const core::Block* block) const noexcept {
        const auto it = slot_of_.find(block);
        return it == slot_of_.end() ? -1 : static_cast<int>(it->second);
    }

    // core::BlockHooks: registers a new block's allocation / clears its slot before it is freed.
    void allocated(core::Block* block, std::size_t bytes) noexcept override;
    void freeing(core::Block* block) noexcept override;

    std::size_t registered() const noexcept { return slot_of_.size(); }
    // Registrations the kernel refused (each such block is sent with plain SEND_ZC); the errno of
    // the last refusal.
    std::uint64_t refused() const noexcept { return refused_; }
    int last_error() const noexcept { return last_error_; }

  private:
    Uring& uring_;
    std::vector<std::uint16_t> free_slots_;
    std::unordered_map<const core::Block*, std::uint16_t> slot_of_;
    std::uint64_t refused_ = 0;
    int last_error_ = 0;
};

}  // namespace herald::net
