#include "net/fixed_buffers.h"

#include <sys/uio.h>

namespace herald::net {

bool FixedBuffers::init(unsigned slots, int& error) noexcept {
    const int ret = io_uring_register_buffers_sparse(uring_.ring(), slots);
    if (ret < 0) {
        error = -ret;
        return false;
    }
    free_slots_.reserve(slots);
    for (unsigned i = slots; i > 0; --i) free_slots_.push_back(static_cast<std::uint16_t>(i - 1));
    slot_of_.reserve(slots);
    return true;
}

void FixedBuffers::allocated(core::Block* block, std::size_t bytes) noexcept {
    if (free_slots_.empty()) {
        ++refused_;
        return;
    }
    const std::uint16_t slot = free_slots_.back();
    const iovec iov{block, bytes};
    const int ret = io_uring_register_buffers_update_tag(uring_.ring(), slot, &iov, nullptr, 1);
    if (ret < 0) {
        ++refused_;
        last_error_ = -ret;
        return;
    }
    free_slots_.pop_back();
    slot_of_.emplace(block, slot);
}

// An empty iovec clears the slot; the kernel keeps the pages of a send still using them until
// that send's notification.
void FixedBuffers::freeing(core::Block* block) noexcept {
    const auto it = slot_of_.find(block);
    if (it == slot_of_.end()) return;
    const iovec none{nullptr, 0};
    io_uring_register_buffers_update_tag(uring_.ring(), it->second, &none, nullptr, 1);
    free_slots_.push_back(it->second);
    slot_of_.erase(it);
}

}  // namespace herald::net
