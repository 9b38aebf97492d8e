// A copy of one peer's AckWindow in the host's shared-memory region, so that the frames a hub
// has sent but its peer has not acknowledged survive the hub process (kill -9): its restarted
// process replays them under the same seqs, and the peer drops what it already has.
//
// A slot is a byte ring of `capacity` bytes plus two marks. Positions count bytes ever appended
// (AckWindow::appended()) or acknowledged (AckWindow::dropped()) and never wrap; a position's
// place in the data is pos % capacity. Bytes are written first, then a mark is committed by
// writing the inactive one of the two and flipping `current` (one aligned store): a process
// killed at any instruction leaves the previous mark, whose bytes [head, tail) are intact,
// because new bytes go only to [tail, head + capacity).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace herald::channel {

// What a committed mark says about the window (all zero: nothing committed yet).
struct WindowMark {
    std::uint64_t head = 0;        // bytes acknowledged (dropped from the front) ever
    std::uint64_t tail = 0;        // bytes appended ever
    std::uint64_t next_seq = 0;    // the next seq the window hands out (0: never committed)
    std::uint64_t acked = 0;       // the last seq the peer acknowledged
    std::uint64_t last_ring = 0;   // the ring record whose frame was appended last:
    std::uint64_t last_pos = 0;    // (worker ring + 1, its position); 0: none
    std::uint32_t lost = 0;        // 1: groups were remembered as lost (not kept here)
    std::uint32_t overflowed = 0;  // 1: the window outgrew the slot; its bytes are not whole
};

struct alignas(64) WindowSlotHeader {
    std::atomic<std::uint32_t> current;  // which of `marks` is committed
    WindowMark marks[2];
};

// One slot, viewed in place (cheap to copy: it only points).
class WindowMirror {
  public:
    WindowMirror() = default;
    WindowMirror(WindowSlotHeader* header, std::uint8_t* data, std::size_t capacity) noexcept
        : header_(header), data_(data), capacity_(capacity) {}

    explicit operator bool() const noexcept { return header_ != nullptr; }
    std::size_t capacity() const noexcept { return capacity_; }
    // The committed mark (acquire: its bytes were written before it).
    WindowMark mark() const noexcept;
    // Writes `bytes` at position `at` (wrapping); the caller keeps at + size <= head + capacity.
    void write(std::uint64_t at, std::string_view bytes) noexcept;
    // Makes `m` the committed mark.
    void commit(const WindowMark& m) noexcept;
    // The bytes [head, tail) of the committed mark (empty when overflowed).
    std::string frames() const;

  private:
    WindowSlotHeader* header_ = nullptr;
    std::uint8_t* data_ = nullptr;
    std::size_t capacity_ = 0;
};

// Bytes one slot of `capacity` data bytes takes in the region (64-byte aligned).
constexpr std::size_t window_slot_size(std::size_t capacity) noexcept {
    return (sizeof(WindowSlotHeader) + capacity + 63) / 64 * 64;
}

}  // namespace herald::channel
