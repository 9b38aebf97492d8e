// The one place that says what the 64 bits of an io_uring user_data mean in herald.
#pragma once

#include <cstdint>

namespace herald::net {

//  63      56 55                32 31                               0
//  +---------+--------------------+---------------------------------+
//  |  op (8) |  generation (24)   |         slot / index (32)       |
//  +---------+--------------------+---------------------------------+
//
// Connection operations carry their connection's slab slot and generation, so a completion
// that arrives after the connection was replaced is recognised and dropped. Loop-level
// operations (accept, timer, signal, wake-up) use index 0 and generation 0.
enum class Op : std::uint8_t {
    kNone = 0,  // completions herald ignores (e.g. cancel requests)
    kAccept,    // multishot accept on the listening socket
    kRecv,      // multishot recv into the provided buffer ring
    kPoll,      // fallback: multishot poll for readability, then recv()
    kSend,      // send / sendmsg of a connection's queued frames
    kClose,     // close of a connection's descriptor (plain and fixed-table entry)
    kTimer,     // the loop's periodic tick
    kSignal,    // read of the signalfd (SIGINT, SIGTERM)
    kWake,      // read of the loop's eventfd (work from another process)
    kSendZc,    // SEND_ZC of one frame: index names the Outbox's flight, not the slot
};

constexpr std::uint64_t encode_user_data(Op op, std::uint32_t generation,
                                         std::uint32_t index) noexcept {
    return (std::uint64_t{static_cast<std::uint8_t>(op)} << 56) |
           (std::uint64_t{generation & 0xFFFFFFu} << 32) | index;
}
constexpr Op op_of(std::uint64_t user_data) noexcept { return static_cast<Op>(user_data >> 56); }
constexpr std::uint32_t generation_of(std::uint64_t user_data) noexcept {
    return static_cast<std::uint32_t>(user_data >> 32) & 0xFFFFFFu;
}
constexpr std::uint32_t index_of(std::uint64_t user_data) noexcept {
    return static_cast<std::uint32_t>(user_data);
}

}  // namespace herald::net
