#include <bit>
#include <cstdlib>
#include <cstring>
#include <new>

#include "core/block.h"

namespace herald::core {
namespace {

constexpr std::size_t kAlign = 64;
constexpr unsigned kUnpooled = BlockPool::kClasses;

std::size_t total_bytes(std::size_t capacity) {
    return Block::kHeaderSize + capacity + Block::kPadding;
}

// The size class whose allocation holds `capacity` usable bytes, or kUnpooled.
unsigned class_for(std::size_t capacity) {
    const std::size_t total = total_bytes(capacity);
    const unsigned shift =
        std::max<unsigned>(BlockPool::kMinShift, static_cast<unsigned>(std::bit_width(total - 1)));
    return shift > BlockPool::kMaxShift ? kUnpooled : shift - BlockPool::kMinShift;
}

std::size_t class_capacity(unsigned klass) {
    return (std::size_t{1} << (klass + BlockPool::kMinShift)) - Block::kHeaderSize -
           Block::kPadding;
}

void* allocate_aligned(std::size_t bytes) {
    void* p = std::aligned_alloc(kAlign, (bytes + kAlign - 1) / kAlign * kAlign);
    if (p == nullptr) throw std::bad_alloc();
    return p;
}

}  // namespace

BlockPool::~BlockPool() { trim(); }

void BlockPool::trim() noexcept {
    for (FreeList& list : free_) {
        while (list.head != nullptr) {
            Block* b = list.head;
            list.head = b->next_free_;
            release(b);
        }
        list.bytes = 0;
    }
    stats_.cached_bytes = 0;
}

void BlockPool::trim_unhooked() noexcept {
    for (unsigned klass = 0; klass < kClasses; ++klass) {
        if (hooks_ != nullptr && class_capacity(klass) >= hooks_min_) break;  // larger ones too
        FreeList& list = free_[klass];
        while (list.head != nullptr) {
            Block* b = list.head;
            list.head = b->next_free_;
            release(b);
        }
        stats_.cached_bytes -= list.bytes;
        list.bytes = 0;
    }
}

Block* BlockPool::acquire(std::size_t min_capacity) {
    const unsigned klass = class_for(min_capacity);
    Block* b = nullptr;
    if (klass != kUnpooled && free_[klass].head != nullptr) {
        FreeList& list = free_[klass];
        b = list.head;
        list.head = b->next_free_;
        list.bytes -= total_bytes(b->capacity_);
        stats_.cached_bytes -= total_bytes(b->capacity_);
    } else {
        const std::size_t capacity = klass == kUnpooled ? min_capacity : class_capacity(klass);
        b = new (allocate_aligned(total_bytes(capacity))) Block();
        b->capacity_ = static_cast<std::uint32_t>(capacity);
        b->pool_ = this;
        ++stats_.mallocs;
        if (hooks_ != nullptr && capacity >= hooks_min_)
            hooks_->allocated(b, total_bytes(capacity));
    }
    b->refs_ = 1;
    b->next_free_ = nullptr;
    b->begin = 0;
    b->size = 0;
    ++stats_.live_blocks;
    return b;
}

Block* BlockPool::grow(Block* old, std::size_t min_capacity, std::size_t keep) {
    HERALD_DCHECK(old->refs_ == 1);
    if (old->capacity_ >= min_capacity) return old;
    Block* b = acquire(min_capacity);
    std::memcpy(b->data(), old->data(), keep);
    b->begin = old->begin;
    b->size = old->size;
    old->unref();
    return b;
}

void BlockPool::release(Block* b) noexcept {
    if (hooks_ != nullptr && b->capacity_ >= hooks_min_) hooks_->freeing(b);
    std::free(b);
}

void BlockPool::recycle(Block* b) noexcept {
    --stats_.live_blocks;
    const unsigned klass = class_for(b->capacity_);
    const std::size_t bytes = total_bytes(b->capacity_);
    if (klass == kUnpooled ||
        (free_[klass].bytes + bytes > cache_limit_ && free_[klass].head != nullptr)) {
        release(b);
        return;
    }
    FreeList& list = free_[klass];
    b->next_free_ = list.head;
    list.head = b;
    list.bytes += bytes;
    stats_.cached_bytes += bytes;
}

}  // namespace herald::core
