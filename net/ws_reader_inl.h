// WsReader's per-frame path, inline: consume(), the dispatch of whole frames, and the checks
// and unmasking every frame goes through. Included by ws_reader.h; not to be included alone.
#pragma once

#include <utility>

#include "core/unmask.h"
#include "net/ws_reader.h"

namespace herald::net {

inline bool WsReader::is_text(const FrameHeader& h) const noexcept {
    constexpr auto kText = static_cast<std::uint8_t>(Opcode::kText);
    return h.opcode == kText || (h.opcode == 0 && message_opcode_ == kText);
}

inline WsReader::Violation WsReader::check_start(const std::uint8_t* head,
                                                 std::size_t avail) const noexcept {
    const std::uint8_t b0 = head[0];
    const auto op = static_cast<std::uint8_t>(b0 & 0x0F);
    if ((b0 & 0x70) != 0) return Violation::kReservedBits;
    if ((op & 0x8) != 0) {
        if (op > static_cast<std::uint8_t>(Opcode::kPong)) return Violation::kUnknownOpcode;
        if ((b0 & 0x80) == 0) return Violation::kFragmentedControl;
    } else if (op > static_cast<std::uint8_t>(Opcode::kBinary)) {
        return Violation::kUnknownOpcode;
    } else if (op == 0 && message_opcode_ == 0) {
        return Violation::kOrphanContinuation;
    } else if (op != 0 && message_opcode_ != 0) {
        return Violation::kNestedMessage;
    }
    if (avail < 2) return Violation::kNone;
    const std::uint8_t b1 = head[1];
    if ((b1 & 0x80) == 0) return Violation::kUnmasked;
    if ((op & 0x8) != 0 && (b1 & 0x7F) > kMaxControlPayload) return Violation::kControlTooLong;
    return Violation::kNone;
}

inline WsReader::Violation WsReader::check_size(const FrameHeader& h,
                                                const WsLimits& limits) const noexcept {
    if (is_control(static_cast<Opcode>(h.opcode))) return Violation::kNone;  // <= 125 bytes
    const std::uint64_t held = message_ == nullptr ? 0 : message_->size;
    return held + h.payload_size > limits.max_message ? Violation::kTooBig : Violation::kNone;
}

inline bool WsReader::prepare(const FrameHeader& h, std::uint8_t* payload, std::size_t done,
                              std::size_t avail) noexcept {
    if (avail == done) return true;
    std::uint8_t* const p = payload + done;
    const std::size_t n = avail - done;
    if (!is_text(h)) {
        core::unmask(p, n, h.mask, done & 3);
        return true;
    }
    // At a code point boundary, all-ASCII text (the common case) is checked while unmasking.
    if (utf8_.complete()) {
        if (core::unmask_ascii(p, n, h.mask, done & 3)) return true;
    } else {
        core::unmask(p, n, h.mask, done & 3);
    }
    return utf8_.feed(p, n);
}

template <class Handler>
ReadResult WsReader::consume(std::uint8_t* data, std::size_t n, Handler& handler,
                             core::BlockPool& pool, const WsLimits& limits) {
    if (HERALD_UNLIKELY(state_ != State::kActive)) return after_end(n);
    std::size_t off = 0;
    if (carry_ != nullptr) {
        FrameHeader h;
        bool complete = false;
        ReadResult r = fill_carry(data, n, off, pool, limits, h, complete);
        if (r.status != ReadStatus::kOk) return r;
        if (!complete) return {ReadStatus::kOk, 0, "", n};
        core::Block* frame = std::exchange(carry_, nullptr);
        r = dispatch(h, frame->data() + h.header_size, handler, pool, limits);
        frame->unref();
        if (r.status != ReadStatus::kOk) {
            r.consumed = off;
            return r;
        }
    }
    while (off < n) {
        std::uint8_t* const head = data + off;
        const std::size_t avail = n - off;
        if (const Violation v = check_start(head, avail); v != Violation::kNone) {
            return fail(v, off);
        }
        FrameHeader h;
        const HeaderStatus st = parse_header(head, avail, h);
        if (st == HeaderStatus::kNeedMore) {
            start_carry(head, avail, pool, 0, 0);
            return {ReadStatus::kOk, 0, "", n};
        }
        if (st == HeaderStatus::kBadLength) return fail(Violation::kBadLength, off);
        if (const Violation v = check_size(h, limits); v != Violation::kNone) return fail(v, off);
        std::uint8_t* const payload = head + h.header_size;
        const std::uint64_t frame_size = h.header_size + h.payload_size;
        if (frame_size > avail) {
            // The tail of the input: unmask and validate what arrived, then keep it.
            const std::size_t arrived = avail - h.header_size;
            if (!prepare(h, payload, 0, arrived)) return fail(Violation::kBadUtf8, off);
            start_carry(head, avail, pool, frame_size, arrived);
            return {ReadStatus::kOk, 0, "", n};
        }
        if (!prepare(h, payload, 0, h.payload_size)) return fail(Violation::kBadUtf8, off);
        off += frame_size;
        ReadResult r = dispatch(h, payload, handler, pool, limits);
        if (r.status != ReadStatus::kOk) {
            r.consumed = off;
            return r;
        }
    }
    return {ReadStatus::kOk, 0, "", n};
}

// A whole frame that passed every header check, its payload unmasked and validated.
template <class Handler>
ReadResult WsReader::dispatch(const FrameHeader& h, std::uint8_t* payload, Handler& handler,
                              core::BlockPool& pool, const WsLimits& limits) {
    const std::size_t size = h.payload_size;
    const auto go_on = [](bool go) {
        return ReadResult{go ? ReadStatus::kOk : ReadStatus::kStopped, 0, "", 0};
    };
    switch (static_cast<Opcode>(h.opcode)) {
        case Opcode::kPing:
            return go_on(handler.on_ping({payload, size}));
        case Opcode::kPong:
            return {};
        case Opcode::kClose:
            return dispatch_close({payload, size}, handler);
        case Opcode::kText:
        case Opcode::kBinary:
            if (!h.fin) {
                message_opcode_ = h.opcode;
                append_fragment(payload, size, pool, limits);
                return {};
            }
            // Binary never feeds the validator, so this only ever fails text.
            if (!utf8_.complete()) return fail(Violation::kTextEndsMidSequence, 0);
            return go_on(handler.on_message(static_cast<Opcode>(h.opcode), {payload, size}));
        case Opcode::kContinuation: {
            append_fragment(payload, size, pool, limits);
            if (!h.fin) return {};
            if (!utf8_.complete()) return fail(Violation::kTextEndsMidSequence, 0);
            const auto opcode = static_cast<Opcode>(message_opcode_);
            message_opcode_ = 0;
            core::Block* message = std::exchange(message_, nullptr);
            const bool go = handler.on_message(opcode, {message->data(), message->size});
            message->unref();
            return go_on(go);
        }
    }
    HERALD_DCHECK(false && "check_start admits no other opcode");
    return fail(Violation::kUnknownOpcode, 0);
}

template <class Handler>
ReadResult WsReader::dispatch_close(std::span<const std::uint8_t> body, Handler& handler) {
    std::uint16_t code = close_code::kNoStatus;
    std::string_view reason;
    if (body.size() == 1) return fail(Violation::kShortCloseBody, 0);
    if (body.size() >= 2) {
        code = static_cast<std::uint16_t>((body[0] << 8) | body[1]);
        if (!is_valid_close_code(code)) return fail(Violation::kBadCloseCode, 0);
        const std::span<const std::uint8_t> text = body.subspan(2);
        if (!core::is_valid_utf8(text.data(), text.size())) {
            return fail(Violation::kBadCloseReason, 0);
        }
        reason = {reinterpret_cast<const char*>(text.data()), text.size()};
    }
    state_ = State::kClosed;
    drop_blocks();  // a fragmented message in progress will never end
    handler.on_close(code, reason);
    return {ReadStatus::kClosed, 0, "", 0};
}

}  // namespace herald::net
