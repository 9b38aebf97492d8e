#include "channel/window_mirror.h"

#include <algorithm>
#include <cstring>

namespace herald::channel {

WindowMark WindowMirror::mark() const noexcept {
    const std::uint32_t i = header_->current.load(std::memory_order_acquire);
    return header_->marks[i & 1];
}

void WindowMirror::write(std::uint64_t at, std::string_view bytes) noexcept {
    std::size_t done = 0;
    while (done < bytes.size()) {
        const std::size_t off = static_cast<std::size_t>((at + done) % capacity_);
        const std::size_t n = std::min(bytes.size() - done, capacity_ - off);
        std::memcpy(data_ + off, bytes.data() + done, n);
        done += n;
    }
}

void WindowMirror::commit(const WindowMark& m) noexcept {
    const std::uint32_t next = (header_->current.load(std::memory_order_relaxed) + 1) & 1;
    header_->marks[next] = m;
    // release: the bytes and the mark are written before the flip that commits them.
    header_->current.store(next, std::memory_order_release);
}

std::string WindowMirror::frames() const {
    const WindowMark m = mark();
    if (m.overflowed != 0 || m.tail < m.head || m.tail - m.head > capacity_) return {};
    std::string out;
    out.reserve(static_cast<std::size_t>(m.tail - m.head));
    for (std::uint64_t at = m.head; at < m.tail;) {
        const std::size_t off = static_cast<std::size_t>(at % capacity_);
        const std::size_t n =
            std::min<std::size_t>(static_cast<std::size_t>(m.tail - at), capacity_ - off);
        out.append(reinterpret_cast<const char*>(data_ + off), n);
        at += n;
    }
    return out;
}

}  // namespace herald::channel
