// WsReader's slow paths: frames that arrive in pieces, fragmented messages, failures.
#include "net/ws_reader.h"

#include <algorithm>
#include <cstring>
#include <iterator>

namespace herald::net {
namespace {

struct ViolationText {
    std::uint16_t code;
    const char* reason;
};

}  // namespace

ReadResult WsReader::failure(Violation why, std::size_t consumed) noexcept {
    // In the order of Violation.
    static constexpr ViolationText kViolations[] = {
        {0, ""},
        {close_code::kProtocolError, "reserved bits set without an extension"},
        {close_code::kProtocolError, "unknown opcode"},
        {close_code::kProtocolError, "fragmented control frame"},
        {close_code::kProtocolError, "client frames must be masked"},
        {close_code::kProtocolError, "control frame over 125 bytes"},
        {close_code::kProtocolError, "continuation frame without a message in progress"},
        {close_code::kProtocolError, "new message inside a fragmented message"},
        {close_code::kProtocolError, "frame length has the top bit set"},
        {close_code::kProtocolError, "close frame with a 1-byte body"},
        {close_code::kProtocolError, "invalid close code"},
        {close_code::kInvalidPayload, "text is not valid UTF-8"},
        {close_code::kInvalidPayload, "text ends inside a UTF-8 sequence"},
        {close_code::kInvalidPayload, "close reason is not valid UTF-8"},
        {close_code::kMessageTooBig, "message too big"},
    };
    static_assert(std::size(kViolations) == static_cast<std::size_t>(Violation::kTooBig) + 1);
    const ViolationText& text = kViolations[static_cast<std::size_t>(why)];
    return {ReadStatus::kFailed, text.code, text.reason, consumed};
}

ReadResult WsReader::fail(Violation why, std::size_t consumed) noexcept {
    HERALD_DCHECK(why != Violation::kNone);
    state_ = State::kFailed;
    violation_ = why;
    drop_blocks();
    return failure(why, consumed);
}

ReadResult WsReader::after_end(std::size_t n) const noexcept {
    if (state_ == State::kClosed) return {ReadStatus::kClosed, 0, "", n};
    return failure(violation_, n);
}

void WsReader::drop_blocks() noexcept {
    if (carry_ != nullptr) std::exchange(carry_, nullptr)->unref();
    if (message_ != nullptr) std::exchange(message_, nullptr)->unref();
}

void WsReader::release() noexcept {
    drop_blocks();
    utf8_.reset();
    message_opcode_ = 0;
    state_ = State::kActive;
    violation_ = Violation::kNone;
}

void WsReader::start_carry(const std::uint8_t* bytes, std::size_t n, core::BlockPool& pool,
                           std::uint64_t frame_size, std::size_t prepared) {
    // Room grows with what actually arrives: a declared length alone reserves nothing large.
    const std::size_t room = frame_size == 0 ? kMaxClientHeader
                                             : static_cast<std::size_t>(std::min<std::uint64_t>(
                                                   frame_size, std::max<std::size_t>(2 * n, 4096)));
    carry_ = pool.acquire(std::max(room, n));
    std::memcpy(carry_->data(), bytes, n);
    carry_->size = static_cast<std::uint32_t>(n);
    carry_->begin = static_cast<std::uint32_t>(prepared);
}

ReadResult WsReader::fill_carry(const std::uint8_t* data, std::size_t n, std::size_t& off,
                                core::BlockPool& pool, const WsLimits& limits, FrameHeader& h,
                                bool& complete) {
    complete = false;
    // 1. The header, up to the end of the field being read: never a byte beyond the header.
    HeaderStatus st = parse_header(carry_->data(), carry_->size, h);
    while (st == HeaderStatus::kNeedMore) {
        if (off == n) return {};
        const std::size_t take = std::min<std::size_t>(h.header_size - carry_->size, n - off);
        std::memcpy(carry_->data() + carry_->size, data + off, take);
        carry_->size += static_cast<std::uint32_t>(take);
        off += take;
        if (const Violation v = check_start(carry_->data(), carry_->size); v != Violation::kNone) {
            return fail(v, off);
        }
        st = parse_header(carry_->data(), carry_->size, h);
    }
    if (st == HeaderStatus::kBadLength) return fail(Violation::kBadLength, off);
    if (const Violation v = check_size(h, limits); v != Violation::kNone) return fail(v, off);

    // 2. Payload bytes, unmasked and validated as they arrive.
    const std::uint64_t frame_size = h.header_size + h.payload_size;
    const auto take =
        static_cast<std::size_t>(std::min<std::uint64_t>(frame_size - carry_->size, n - off));
    const std::size_t needed = carry_->size + take;
    if (needed > carry_->capacity()) {
        const auto grown = static_cast<std::size_t>(
            std::min<std::uint64_t>(frame_size, std::max(needed, 2 * carry_->capacity())));
        carry_ = pool.grow(carry_, grown, carry_->size);
    }
    std::memcpy(carry_->data() + carry_->size, data + off, take);
    carry_->size += static_cast<std::uint32_t>(take);
    off += take;
    const std::size_t arrived = carry_->size - h.header_size;
    if (!prepare(h, carry_->data() + h.header_size, carry_->begin, arrived)) {
        return fail(Violation::kBadUtf8, off);
    }
    carry_->begin = static_cast<std::uint32_t>(arrived);
    complete = carry_->size == frame_size;
    return {};
}

void WsReader::append_fragment(const std::uint8_t* payload, std::size_t n, core::BlockPool& pool,
                               const WsLimits& limits) {
    if (message_ == nullptr) {
        message_ = pool.acquire(std::max<std::size_t>(n, 256));
    } else if (message_->size + n > message_->capacity()) {
        // Doubling (bounded by the limit) keeps the copying linear in the message size.
        const std::size_t want = std::max<std::size_t>(
            message_->size + n, static_cast<std::size_t>(std::min<std::uint64_t>(
                                    2 * message_->capacity(), limits.max_message)));
        message_ = pool.grow(message_, want, message_->size);
    }
    if (n > 0) std::memcpy(message_->data() + message_->size, payload, n);
    message_->size += static_cast<std::uint32_t>(n);
}

}  // namespace herald::net
