// Server-side RFC 6455 reader: turns the bytes of one connection into messages and control
// frames, enforcing every protocol rule, in place and without copying what arrives whole.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <utility>

#include "core/block.h"
#include "core/utf8.h"
#include "net/ws_frame.h"

namespace herald::net {

// The handler a WsReader reports to (a template parameter, so calls inline):
//
//   struct Handler {
//       // A complete data message (opcode kText or kBinary). Text is valid UTF-8. `payload`
//       // is valid until the call returns and has core::Block::kPadding readable bytes after
//       // its end. Return false to make consume() stop (kStopped).
//       bool on_message(Opcode opcode, std::span<const std::uint8_t> payload);
//       // A ping; the handler answers with a pong carrying the same payload.
//       bool on_ping(std::span<const std::uint8_t> payload);
//       // A valid close frame. code is close_code::kNoStatus when the frame had no body.
//       // The reader is closed afterwards: consume() ignores further input.
//       void on_close(std::uint16_t code, std::string_view reason);
//   };
// Unsolicited pongs are dropped without a call.

enum class ReadStatus : std::uint8_t {
    kOk,       // all input consumed; a partial frame, if any, is held for the next call
    kStopped,  // the handler returned false; `consumed` says how far the reader got
    kClosed,   // a close frame arrived (on_close was called); the rest is ignored
    kFailed,   // protocol violation: fail the connection with close_code and reason
};

struct ReadResult {
    ReadStatus status = ReadStatus::kOk;
    std::uint16_t close_code = 0;  // kFailed: 1002, 1007 or 1009
    const char* reason = "";       // kFailed: short human text for the close frame
    std::size_t consumed = 0;      // input bytes used
};

struct WsLimits {
    std::uint64_t max_message = 1u << 20;  // bytes of one message, all fragments together
};

// Per-connection reader state. Small (it lives in every connection); holds pool blocks only
// while a frame or a fragmented message is incomplete.
//
// Rules enforced (RFC 6455 §5-7), each failing the connection with the code shown:
//   client frame not masked, RSV bit set (no extension negotiated), unknown opcode,
//   control frame over 125 bytes or fragmented, continuation without a message in progress,
//   new data frame while a fragmented message is in progress, 64-bit length with the top bit
//   set, close frame with a 1-byte body or an invalid code                             -> 1002
//   text message (or close reason) that is not valid UTF-8, detected as soon as the first bad
//   byte arrives, also across fragment and read boundaries                             -> 1007
//   message (sum of its fragments) longer than WsLimits::max_message                   -> 1009
class WsReader {
  public:
    WsReader() = default;
    WsReader(const WsReader&) = delete;
    WsReader& operator=(const WsReader&) = delete;
    ~WsReader() { HERALD_DCHECK(idle()); }  // release() must have returned the blocks

    // Consumes data[0..n), unmasking in place (the caller's buffer is modified; it must have
    // core::Block::kPadding readable bytes after its end). Frames that are complete in `data`
    // are delivered straight from it; an incomplete tail is copied to a pool block and
    // completed by later calls. After kClosed or kFailed, further calls consume nothing new
    // and return the same status.
    template <class Handler>
    ReadResult consume(std::uint8_t* data, std::size_t n, Handler& handler, core::BlockPool& pool,
                       const WsLimits& limits);

    // Returns held blocks to their pool; the reader is then empty (and stays closed/failed).
    void release() noexcept;

    // True when no partial frame or message is held.
    bool idle() const noexcept { return carry_ == nullptr && message_ == nullptr; }

  private:
    enum class State : std::uint8_t { kActive, kClosed, kFailed };

    // The protocol rules a complete header can be judged by; kOk or kFailed.
    ReadResult check(const FrameHeader& h, const WsLimits& limits) const noexcept;
    // Unmasks payload bytes [done, avail) and, for text, validates them. False: bad UTF-8.
    bool prepare(const FrameHeader& h, std::uint8_t* payload, std::size_t done,
                 std::size_t avail) noexcept;
    bool is_text(const FrameHeader& h) const noexcept {
        return h.opcode == static_cast<std::uint8_t>(Opcode::kText) ||
               (h.opcode == static_cast<std::uint8_t>(Opcode::kContinuation) &&
                message_opcode_ == static_cast<std::uint8_t>(Opcode::kText));
    }
    // Copies the start of an incomplete frame (`progress` payload bytes already prepared).
    void start_carry(const std::uint8_t* bytes, std::size_t n, core::BlockPool& pool,
                     std::size_t frame_size, std::size_t progress);
    // Adds bytes from data[off, n) to the carried frame, advancing off; sets `complete` when
    // the frame is whole (its header is then in h). kFailed on a protocol violation.
    ReadResult fill_carry(const std::uint8_t* data, std::size_t n, std::size_t& off,
                          core::BlockPool& pool, const WsLimits& limits, FrameHeader& h,
                          bool& complete);
    // Appends a fragment's payload to the message being assembled.
    void append_fragment(const std::uint8_t* payload, std::size_t n, core::BlockPool& pool,
                         const WsLimits& limits);
    ReadResult fail(std::uint16_t code, const char* reason, std::size_t consumed) noexcept;

    template <class Handler>
    ReadResult dispatch(const FrameHeader& h, std::uint8_t* payload, Handler& handler,
                        core::BlockPool& pool, const WsLimits& limits);

    // An incomplete frame: its raw bytes (header and payload so far) in data()[0, size);
    // `begin` counts the payload bytes already unmasked and validated.
    core::Block* carry_ = nullptr;
    // A fragmented message so far: its unmasked payload in data()[0, size).
    core::Block* message_ = nullptr;
    core::Utf8Validator utf8_;         // the text message in progress, across frames and reads
    std::uint8_t message_opcode_ = 0;  // opcode of the fragmented message in progress (0: none)
    State state_ = State::kActive;
    std::uint16_t fail_code_ = 0;  // kFailed: the close code
};
static_assert(sizeof(WsReader) <= 24, "a WsReader lives in every connection");

template <class Handler>
ReadResult WsReader::consume(std::uint8_t* data, std::size_t n, Handler& handler,
                             core::BlockPool& pool, const WsLimits& limits) {
    if (state_ == State::kClosed) return {ReadStatus::kClosed, 0, "", n};
    if (state_ == State::kFailed) return {ReadStatus::kFailed, fail_code_, "", n};
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
        FrameHeader h;
        const HeaderStatus st = parse_header(data + off, n - off, h);
        if (st == HeaderStatus::kBadLength) {
            return fail(close_code::kProtocolError, "frame length has the top bit set", off);
        }
        if (st == HeaderStatus::kNeedMore) {
            start_carry(data + off, n - off, pool, 0, 0);
            return {ReadStatus::kOk, 0, "", n};
        }
        if (const ReadResult r = check(h, limits); r.status != ReadStatus::kOk) {
            return fail(r.close_code, r.reason, off);
        }
        std::uint8_t* payload = data + off + h.header_size;
        const std::uint64_t frame = h.header_size + h.payload_size;
        if (n - off < frame) {
            const std::size_t avail = n - off - h.header_size;
            if (!prepare(h, payload, 0, avail)) {
                return fail(close_code::kInvalidPayload, "text is not valid UTF-8", off);
            }
            start_carry(data + off, n - off, pool, frame, avail);
            return {ReadStatus::kOk, 0, "", n};
        }
        if (!prepare(h, payload, 0, h.payload_size)) {
            return fail(close_code::kInvalidPayload, "text is not valid UTF-8", off);
        }
        off += frame;
        ReadResult r = dispatch(h, payload, handler, pool, limits);
        if (r.status != ReadStatus::kOk) {
            r.consumed = off;
            return r;
        }
    }
    return {ReadStatus::kOk, 0, "", n};
}

template <class Handler>
ReadResult WsReader::dispatch(const FrameHeader& h, std::uint8_t* payload, Handler& handler,
                              core::BlockPool& pool, const WsLimits& limits) {
    const std::size_t size = h.payload_size;
    const auto stop_if = [](bool go) {
        return ReadResult{go ? ReadStatus::kOk : ReadStatus::kStopped, 0, "", 0};
    };
    switch (static_cast<Opcode>(h.opcode)) {
        case Opcode::kPing:
            return stop_if(handler.on_ping({payload, size}));
        case Opcode::kPong:
            return {};
        case Opcode::kClose: {
            std::uint16_t code = close_code::kNoStatus;
            std::string_view reason;
            if (size == 1) return fail(close_code::kProtocolError, "close body of 1 byte", 0);
            if (size >= 2) {
                code = static_cast<std::uint16_t>((payload[0] << 8) | payload[1]);
                if (!is_valid_close_code(code)) {
                    return fail(close_code::kProtocolError, "invalid close code", 0);
                }
                if (!core::is_valid_utf8(payload + 2, size - 2)) {
                    return fail(close_code::kInvalidPayload, "close reason is not UTF-8", 0);
                }
                reason = {reinterpret_cast<const char*>(payload + 2), size - 2};
            }
            state_ = State::kClosed;
            release();
            handler.on_close(code, reason);
            return {ReadStatus::kClosed, 0, "", 0};
        }
        case Opcode::kText:
        case Opcode::kBinary:
            if (!h.fin) {
                message_opcode_ = h.opcode;
                append_fragment(payload, size, pool, limits);
                return {};
            }
            if (h.opcode == static_cast<std::uint8_t>(Opcode::kText) && !utf8_.complete()) {
                return fail(close_code::kInvalidPayload, "text ends inside a UTF-8 sequence", 0);
            }
            utf8_.reset();
            return stop_if(handler.on_message(static_cast<Opcode>(h.opcode), {payload, size}));
        case Opcode::kContinuation: {
            append_fragment(payload, size, pool, limits);
            if (!h.fin) return {};
            const auto opcode = static_cast<Opcode>(message_opcode_);
            if (opcode == Opcode::kText && !utf8_.complete()) {
                return fail(close_code::kInvalidPayload, "text ends inside a UTF-8 sequence", 0);
            }
            utf8_.reset();
            message_opcode_ = 0;
            core::Block* message = std::exchange(message_, nullptr);
            const bool go = handler.on_message(opcode, {message->data(), message->size});
            message->unref();
            return stop_if(go);
        }
    }
    return fail(close_code::kProtocolError, "unknown opcode", 0);  // check() rules this out
}

}  // namespace herald::net
