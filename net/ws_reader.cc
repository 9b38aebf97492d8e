#include "net/ws_reader.h"

#include <algorithm>
#include <cstring>

#include "core/unmask.h"

namespace herald::net {

void WsReader::release() noexcept {
    if (carry_ != nullptr) std::exchange(carry_, nullptr)->unref();
    if (message_ != nullptr) std::exchange(message_, nullptr)->unref();
}

ReadResult WsReader::fail(std::uint16_t code, const char* reason, std::size_t consumed) noexcept {
    state_ = State::kFailed;
    fail_code_ = code;
    release();
    return {ReadStatus::kFailed, code, reason, consumed};
}

ReadResult WsReader::check(const FrameHeader& h, const WsLimits& limits) const noexcept {
    const auto protocol_error = [](const char* why) {
        return ReadResult{ReadStatus::kFailed, close_code::kProtocolError, why, 0};
    };
    if (h.rsv != 0) return protocol_error("reserved bits set without an extension");
    if (!h.masked) return protocol_error("client frames must be masked");
    const auto op = static_cast<Opcode>(h.opcode);
    if ((h.opcode & 0x8) != 0) {
        if (op != Opcode::kClose && op != Opcode::kPing && op != Opcode::kPong) {
            return protocol_error("unknown opcode");
        }
        if (!h.fin) return protocol_error("fragmented control frame");
        if (h.payload_size > kMaxControlPayload)
            return protocol_error("control frame over 125 bytes");
        return {};
    }
    if (op != Opcode::kContinuation && op != Opcode::kText && op != Opcode::kBinary) {
        return protocol_error("unknown opcode");
    }
    if (op == Opcode::kContinuation && message_opcode_ == 0) {
        return protocol_error("continuation frame without a message in progress");
    }
    if (op != Opcode::kContinuation && message_opcode_ != 0) {
        return protocol_error("new message inside a fragmented message");
    }
    const std::uint64_t held = message_ == nullptr ? 0 : message_->size;
    if (h.payload_size > limits.max_message - held) {
        return {ReadStatus::kFailed, close_code::kMessageTooBig, "message too big", 0};
    }
    return {};
}

bool WsReader::prepare(const FrameHeader& h, std::uint8_t* payload, std::size_t done,
                       std::size_t avail) noexcept {
    if (avail == done) return true;
    core::unmask(payload + done, avail - done, h.mask, done & 3);
    return !is_text(h) || utf8_.feed(payload + done, avail - done);
}

void WsReader::start_carry(const std::uint8_t* bytes, std::size_t n, core::BlockPool& pool,
                           std::size_t frame_size, std::size_t progress) {
    // Room grows with what actually arrives (a declared length alone reserves nothing large).
    const std::size_t room = frame_size == 0
                                 ? kMaxClientHeader
                                 : std::min(frame_size, std::max<std::size_t>(2 * n, 4096));
    carry_ = pool.acquire(std::max(room, n));
    std::memcpy(carry_->data(), bytes, n);
    carry_->size = static_cast<std::uint32_t>(n);
    carry_->begin = static_cast<std::uint32_t>(progress);
}

ReadResult WsReader::fill_carry(const std::uint8_t* data, std::size_t n, std::size_t& off,
                                core::BlockPool& pool, const WsLimits& limits, FrameHeader& h,
                                bool& complete) {
    complete = false;
    // 1. Complete the header, never taking bytes beyond it.
    HeaderStatus st = parse_header(carry_->data(), carry_->size, h);
    while (st == HeaderStatus::kNeedMore) {
        const std::size_t want = carry_->size < 2 ? 2 : h.header_size;
        const std::size_t take = std::min(want - carry_->size, n - off);
        std::memcpy(carry_->data() + carry_->size, data + off, take);
        carry_->size += static_cast<std::uint32_t>(take);
        off += take;
        st = parse_header(carry_->data(), carry_->size, h);
        if (st == HeaderStatus::kNeedMore && off == n) return {};
    }
    if (st == HeaderStatus::kBadLength) {
        return fail(close_code::kProtocolError, "frame length has the top bit set", off);
    }
    if (const ReadResult r = check(h, limits); r.status != ReadStatus::kOk) {
        return fail(r.close_code, r.reason, off);
    }

    // 2. Payload bytes, unmasked and validated as they arrive.
    const std::uint64_t frame = h.header_size + h.payload_size;
    const std::size_t take =
        static_cast<std::size_t>(std::min<std::uint64_t>(frame - carry_->size, n - off));
    const std::size_t needed = carry_->size + take;
    if (needed > carry_->capacity()) {
        const std::size_t grown =
            std::min<std::size_t>(frame, std::max(needed, 2 * carry_->capacity()));
        carry_ = pool.grow(carry_, grown, carry_->size);
    }
    std::memcpy(carry_->data() + carry_->size, data + off, take);
    carry_->size += static_cast<std::uint32_t>(take);
    off += take;
    std::uint8_t* payload = carry_->data() + h.header_size;
    const std::size_t avail = carry_->size - h.header_size;
    if (!prepare(h, payload, carry_->begin, avail)) {
        return fail(close_code::kInvalidPayload, "text is not valid UTF-8", off);
    }
    carry_->begin = static_cast<std::uint32_t>(avail);
    complete = carry_->size == frame;
    return {};
}

void WsReader::append_fragment(const std::uint8_t* payload, std::size_t n, core::BlockPool& pool,
                               const WsLimits& limits) {
    if (message_ == nullptr) {
        message_ = pool.acquire(std::max<std::size_t>(n, 256));
    } else if (message_->size + n > message_->capacity()) {
        const std::size_t want = std::max<std::size_t>(
            message_->size + n,
            std::min<std::size_t>(2 * message_->capacity(), limits.max_message));
        message_ = pool.grow(message_, want, message_->size);
    }
    std::memcpy(message_->data() + message_->size, payload, n);
    message_->size += static_cast<std::uint32_t>(n);
}

}  // namespace herald::net
