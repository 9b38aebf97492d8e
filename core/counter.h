// Counters with one writer and any number of readers, possibly in other processes.
#pragma once

#include <atomic>
#include <cstdint>

namespace herald::core {

// Written by one thread only, so add() is a relaxed load and store (no locked instruction);
// readers see a recent value, never a torn one. Lives in ordinary or shared memory.
class Counter {
  public:
    void add(std::uint64_t n = 1) noexcept {
        // relaxed: single writer; readers only need an untorn, eventually fresh value.
        value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    void set(std::uint64_t v) noexcept { value_.store(v, std::memory_order_relaxed); }
    std::uint64_t get() const noexcept { return value_.load(std::memory_order_relaxed); }

  private:
    std::atomic<std::uint64_t> value_{0};
};
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

}  // namespace herald::core
