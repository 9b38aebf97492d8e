// Reference-counted byte blocks from size-class pools: the one buffer type for frames that many
// connections share, and for reassembling input that arrived in pieces.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <utility>

#include "core/assert.h"

namespace herald::core {

class Block;
class BlockPool;

// Told when a pool allocates or frees the memory of a block of at least the capacity it was
// installed with (BlockPool::set_hooks): net/fixed_buffers.h registers such memory with io_uring
// for zero-copy sends. Not on the hot path: only pool misses and trims call it.
class BlockHooks {
  public:
    // `block`'s allocation, [block, block + bytes), is new.
    virtual void allocated(Block* block, std::size_t bytes) noexcept = 0;
    // `block`'s allocation is about to go back to malloc.
    virtual void freeing(Block* block) noexcept = 0;

  protected:
    ~BlockHooks() = default;
};

// A block is one allocation: this header, then `capacity()` usable bytes, then kPadding more
// readable bytes (so SIMD parsers such as simdjson may read past the end of the data).
//
//  0       4       8               16              24      28      32
//  +-------+-------+---------------+---------------+-------+-------+----------------+---------+
//  | refs  | cap   | pool*         | next_free*    | begin | size  | data[cap] ...  | pad[64] |
//  +-------+-------+---------------+---------------+-------+-------+----------------+---------+
//
// Reference counts are plain integers: a block never leaves the thread (process) that made it.
class Block {
  public:
    static constexpr std::size_t kHeaderSize = 32;
    static constexpr std::size_t kPadding = 64;

    std::uint8_t* data() noexcept { return reinterpret_cast<std::uint8_t*>(this) + kHeaderSize; }
    const std::uint8_t* data() const noexcept {
        return reinterpret_cast<const std::uint8_t*>(this) + kHeaderSize;
    }
    std::size_t capacity() const noexcept { return capacity_; }

    // The bytes in use are [data() + begin, data() + begin + size); their meaning is the owner's.
    std::uint32_t begin = 0;
    std::uint32_t size = 0;

    std::uint8_t* bytes() noexcept { return data() + begin; }
    const std::uint8_t* bytes() const noexcept { return data() + begin; }

    std::uint32_t refs() const noexcept { return refs_; }
    void ref() noexcept { ++refs_; }
    // Drops one reference; the last one returns the block to its pool.
    inline void unref() noexcept;

  private:
    friend class BlockPool;
    Block() = default;

    std::uint32_t refs_ = 0;      // owners; 0 while on a free list
    std::uint32_t capacity_ = 0;  // usable bytes after the header
    BlockPool* pool_ = nullptr;   // where unref() returns the block
    Block* next_free_ = nullptr;  // free-list link while refs_ == 0
};
static_assert(sizeof(Block) == Block::kHeaderSize);

// Hands out blocks in power-of-two size classes and keeps freed ones for reuse, so steady-state
// traffic allocates nothing. Blocks above the largest class come from malloc and go back to it.
// Single-threaded.
class BlockPool {
  public:
    static constexpr unsigned kMinShift = 7;   // smallest allocation: 128 bytes, header included
    static constexpr unsigned kMaxShift = 22;  // largest pooled allocation: 4 MiB
    static constexpr unsigned kClasses = kMaxShift - kMinShift + 1;

    // Each class keeps at most this many bytes of free blocks (at least one block).
    explicit BlockPool(std::size_t cached_bytes_per_class = 16u << 20) noexcept
        : cache_limit_(cached_bytes_per_class) {}
    ~BlockPool();
    BlockPool(const BlockPool&) = delete;
    BlockPool& operator=(const BlockPool&) = delete;

    // A block with capacity() >= min_capacity, one reference, begin = size = 0.
    // Throws std::bad_alloc (as operator new does) when memory is exhausted; from the noexcept
    // event loop that ends the process (std::terminate).
    Block* acquire(std::size_t min_capacity);

    // A block of at least min_capacity holding the first `keep` bytes of `old`'s data() (same
    // begin and size); `old` loses the caller's reference. Returns `old` itself when it is large
    // enough.
    Block* grow(Block* old, std::size_t min_capacity, std::size_t keep);

    // Frees every cached block (an idle process gives its memory back).
    void trim() noexcept;
    // Frees the cached blocks no hooks watch (every cached block when none are set): the ones
    // a burst of small frames left, without unregistering fixed buffers (net/fixed_buffers.h).
    void trim_unhooked() noexcept;

    // Calls `hooks` (null: none) for every allocation and free of a block whose capacity is at
    // least `min_capacity` bytes from now on. `hooks` must outlive the pool or be unset first.
    void set_hooks(BlockHooks* hooks, std::size_t min_capacity) noexcept {
        hooks_ = hooks;
        hooks_min_ = min_capacity;
    }

    struct Stats {
        std::uint64_t live_blocks = 0;   // handed out, not yet returned
        std::uint64_t cached_bytes = 0;  // on free lists
        std::uint64_t mallocs = 0;       // times the pool had to allocate
    };
    const Stats& stats() const noexcept { return stats_; }

  private:
    friend class Block;
    void recycle(Block* block) noexcept;
    void release(Block* block) noexcept;  // back to malloc, hooks told

    struct FreeList {
        Block* head = nullptr;
        std::size_t bytes = 0;
    };
    std::array<FreeList, kClasses> free_{};
    std::size_t cache_limit_;
    Stats stats_{};
    BlockHooks* hooks_ = nullptr;
    std::size_t hooks_min_ = 0;
};

inline void Block::unref() noexcept {
    HERALD_DCHECK(refs_ > 0);
    if (--refs_ == 0) pool_->recycle(this);
}

// An owning reference to a block (like an intrusive_ptr): TLS output blocks (net/tls_session.h)
// travel as these.
class BlockRef {
  public:
    BlockRef() noexcept = default;
    // Adopts one reference the caller already holds.
    static BlockRef adopt(Block* block) noexcept { return BlockRef(block); }
    BlockRef(const BlockRef& other) noexcept : block_(other.block_) {
        if (block_ != nullptr) block_->ref();
    }
    BlockRef(BlockRef&& other) noexcept : block_(std::exchange(other.block_, nullptr)) {}
    BlockRef& operator=(BlockRef other) noexcept {
        std::swap(block_, other.block_);
        return *this;
    }
    ~BlockRef() { reset(); }

    void reset() noexcept {
        if (block_ != nullptr) std::exchange(block_, nullptr)->unref();
    }
    // Gives up ownership without dropping the reference.
    Block* release() noexcept { return std::exchange(block_, nullptr); }

    Block* get() const noexcept { return block_; }
    Block* operator->() const noexcept { return block_; }
    Block& operator*() const noexcept { return *block_; }
    explicit operator bool() const noexcept { return block_ != nullptr; }

  private:
    explicit BlockRef(Block* block) noexcept : block_(block) {}
    Block* block_ = nullptr;
};

}  // namespace herald::core
