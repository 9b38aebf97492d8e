// A slab of objects addressed by 32-bit index plus generation, so a stale handle is detected.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <utility>
#include <vector>

#include "core/assert.h"

namespace herald::core {

// Holds up to `max_slots` objects of type T in fixed-size chunks: addresses never move, memory
// grows a chunk at a time as slots are first used. Each slot carries a generation that changes
// every time the slot is freed, so (index, generation) names one object's lifetime; completions
// that arrive after their object died compare generations and are dropped.
// Freed slots are reused most-recently-freed first (their cache lines are warm).
// kChunkSlots is the growth step: 256 connection slots are 27 KiB, so the partly used last chunk
// each worker holds costs little when many workers share a host (1024 of 144 B cost 144 KiB).
template <class T, std::size_t kChunkSlots = 256>
class Slab {
  public:
    static constexpr std::uint32_t kGenerationMask = (1u << 24) - 1;  // fits user_data bits

    explicit Slab(std::uint32_t max_slots) : max_slots_(max_slots) {}
    ~Slab() {
        for (std::uint32_t i = 0; i < next_unused_; ++i) {
            if (meta(i) & kLive) object(i)->~T();
        }
    }
    Slab(const Slab&) = delete;
    Slab& operator=(const Slab&) = delete;

    // Constructs a T in a free slot; returns its index, or kFull when all max_slots are live.
    static constexpr std::uint32_t kFull = UINT32_MAX;
    template <class... Args>
    std::uint32_t emplace(Args&&... args) {
        std::uint32_t index;
        if (!free_.empty()) {
            index = free_.back();
            free_.pop_back();
        } else if (next_unused_ < max_slots_) {
            index = next_unused_;
            if (index % kChunkSlots == 0) chunks_.push_back(std::make_unique<Chunk>());
            ++next_unused_;
        } else {
            return kFull;
        }
        new (storage(index)) T(std::forward<Args>(args)...);
        meta(index) |= kLive;
        ++live_;
        return index;
    }

    // Destroys the object in `index` and makes every handle to it stale.
    void erase(std::uint32_t index) {
        std::uint32_t& m = meta(index);
        HERALD_ASSERT(m & kLive);
        object(index)->~T();
        m = (m + 1) & kGenerationMask;  // not live, the next generation
        free_.push_back(index);
        --live_;
    }

    T& operator[](std::uint32_t index) noexcept {
        HERALD_DCHECK(index < next_unused_ && (meta(index) & kLive));
        return *object(index);
    }
    std::uint32_t generation(std::uint32_t index) const noexcept {
        return meta(index) & kGenerationMask;
    }

    // The object for (index, generation), or nullptr when that lifetime has ended.
    T* find(std::uint32_t index, std::uint32_t generation) noexcept {
        if (index >= next_unused_) return nullptr;
        return meta(index) == (kLive | generation) ? object(index) : nullptr;
    }
    bool live(std::uint32_t index) const noexcept {
        return index < next_unused_ && (meta(index) & kLive);
    }

    std::uint32_t size() const noexcept { return live_; }
    std::uint32_t capacity() const noexcept { return max_slots_; }
    // One past the highest index ever used: iterate [0, high_water()) and test live().
    std::uint32_t high_water() const noexcept { return next_unused_; }

  private:
    static constexpr std::uint32_t kLive = 1u << 31;  // in meta: the slot holds an object

    // Objects and their metadata in separate arrays, so a slot costs sizeof(T) + 4 bytes
    // (a struct of both would pad each slot to T's alignment).
    struct Chunk {
        alignas(T) unsigned char storage[kChunkSlots][sizeof(T)];
        std::uint32_t meta[kChunkSlots] = {};  // generation (low 24 bits) | kLive
    };

    unsigned char* storage(std::uint32_t i) noexcept {
        return chunks_[i / kChunkSlots]->storage[i % kChunkSlots];
    }
    T* object(std::uint32_t i) noexcept { return std::launder(reinterpret_cast<T*>(storage(i))); }
    std::uint32_t& meta(std::uint32_t i) noexcept {
        return chunks_[i / kChunkSlots]->meta[i % kChunkSlots];
    }
    std::uint32_t meta(std::uint32_t i) const noexcept {
        return chunks_[i / kChunkSlots]->meta[i % kChunkSlots];
    }

    std::vector<std::unique_ptr<Chunk>> chunks_;
    std::vector<std::uint32_t> free_;
    std::uint32_t next_unused_ = 0;
    std::uint32_t live_ = 0;
    std::uint32_t max_slots_;
};

}  // namespace herald::core
