// The frames waiting to be written to one connection: references to shared blocks, in order.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/block.h"

namespace herald::net {

// Queue nodes come from a pool shared by every connection of a loop, so queueing a frame for a
// recipient is a pointer pop, a reference-count increment and a link, never an allocation.
struct SendNode {
    core::Block* block;  // one reference held by the queue
    SendNode* next;
};

class SendNodePool {
  public:
    SendNodePool() = default;
    SendNodePool(const SendNodePool&) = delete;
    SendNodePool& operator=(const SendNodePool&) = delete;

    SendNode* get() {
        if (free_ == nullptr) grow();
        SendNode* n = free_;
        free_ = n->next;
        if (++out_ > peak_) peak_ = out_;
        return n;
    }
    void put(SendNode* n) noexcept {
        n->next = free_;
        free_ = n;
        --out_;
    }

    // Frees chunks none of whose nodes is in a queue, keeping enough chunks for `keep_nodes`
    // nodes (what recent traffic needed); nodes in queues stay valid. O(free nodes x log chunks).
    void trim(std::size_t keep_nodes);
    // The most nodes out at once since the last take_peak() (which starts the count again from
    // the nodes out now).
    std::size_t take_peak() noexcept {
        const std::size_t peak = peak_;
        peak_ = out_;
        return peak;
    }
    std::size_t peak() const noexcept { return peak_; }
    // Bytes of node chunks held (kChunk nodes of 16 bytes each), for tests and figures.
    std::size_t bytes() const noexcept { return chunks_.size() * kChunk * sizeof(SendNode); }

  private:
    void grow();
    static constexpr std::size_t kChunk = 4096;
    std::vector<std::unique_ptr<SendNode[]>> chunks_;
    SendNode* free_ = nullptr;
    std::size_t out_ = 0;   // nodes in queues
    std::size_t peak_ = 0;  // most nodes out at once since take_peak()
};

// FIFO of frames for one connection. bytes() counts everything not yet acknowledged by a send
// completion, including what is in flight: it is what --max-backpressure bounds.
class SendQueue {
  public:
    SendQueue() = default;
    SendQueue(const SendQueue&) = delete;
    SendQueue& operator=(const SendQueue&) = delete;
    ~SendQueue() { HERALD_DCHECK(head_ == nullptr); }

    bool empty() const noexcept { return head_ == nullptr; }
    // The block holding the first frame (null when empty).
    core::Block* head_block() const noexcept { return head_ == nullptr ? nullptr : head_->block; }
    std::uint64_t bytes() const noexcept { return bytes_; }

    // Appends `block` (frame bytes [begin, begin + size)); the queue takes over one reference.
    void push(core::Block* block, SendNodePool& pool) {
        SendNode* n = pool.get();
        n->block = block;
        n->next = nullptr;
        if (tail_ == nullptr) {
            head_ = n;
        } else {
            tail_->next = n;
        }
        tail_ = n;
        HERALD_DCHECK(bytes_ + std::uint64_t{block->size} <= UINT32_MAX);
        bytes_ += block->size;
    }

    // Describes up to `max` frames from the head in iov (the first one minus what a short send
    // already wrote); returns how many, and their total length in `total`.
    std::size_t gather(iovec* iov, std::size_t max, std::size_t& total) const noexcept;

    // Marks `n` bytes from the head as written and releases frames that are done.
    void consume(std::size_t n, SendNodePool& pool) noexcept;

    // Drops every frame after the first `keep` (those a send in flight refers to).
    void truncate(std::size_t keep, SendNodePool& pool) noexcept;

    void clear(SendNodePool& pool) noexcept { truncate(0, pool); }

  private:
    SendNode* head_ = nullptr;
    SendNode* tail_ = nullptr;
    // Bounded by --max-backpressure (at most 1 GiB) plus one frame and a close frame (each at
    // most --max-message, 1 GiB): 32 bits keep the queue, and the Connection, 8 bytes smaller.
    std::uint32_t bytes_ = 0;
    std::uint32_t head_offset_ = 0;  // bytes of the head frame already written
};

}  // namespace herald::net
