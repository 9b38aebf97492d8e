// TlsSession: one connection's server-side TLS (RFC 8446 TLS 1.3, RFC 5246 TLS 1.2) over memory,
// for a single-threaded io_uring loop. It makes no socket calls: ciphertext the loop received
// goes in through feed(), plaintext comes out through a sink; plaintext frames go in through
// encrypt(), ciphertext comes out as pool blocks through take_output().
//
//        recv (multishot, provided buffer)               sendmsg (one per connection per pass)
//                  |                                                   ^
//                  v                                                   |
//   feed(ciphertext, sink) --SSL_read--> sink.on_plaintext()     take_output() -> BlockRef
//                  |                                                   ^
//                  +--- handshake replies, alerts ------> output block +
//   encrypt(iovec frames) ---SSL_write (<= 16 KiB records)-----------> |
//
// Memory bound per session: the SSL object (a few KiB; OpenSSL's 16 KiB record buffers are given
// back while idle, SSL_MODE_RELEASE_BUFFERS) plus one output block of at most kOutputSoftLimit +
// one record (< 64 KiB); an idle session whose output was taken holds no block. feed() keeps no
// ciphertext: it consumes all it is given before returning. Two 16 KiB per-thread scratch
// buffers (plaintext out of SSL_read, staging for coalescing) are shared by all sessions.
#pragma once

#include <openssl/ssl.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "core/block.h"

namespace herald::net {

enum class TlsState : std::uint8_t {
    kHandshaking,  // ClientHello not yet seen or handshake in progress
    kOpen,         // handshake done: encrypt() and plaintext work
    kClosed,       // close_notify sent or received, or the peer ended the stream after the
                   // handshake; send what take_output() holds, then close the socket
    kFailed,       // see TlsFailure; send what take_output() holds (a fatal alert at most), close
};

enum class TlsFailure : std::uint8_t {
    kNone,
    kPlainHttp,  // the first bytes are an HTTP request ("GET ..."): the caller may answer a plain
                 // "HTTP/1.1 400" saying the port speaks TLS, then close
    kNotTls,     // the first byte is not a TLS handshake record (0x16): close
    kHandshake,  // the handshake was refused (version, ciphers, ALPN, client certificate, ...)
    kProtocol,   // a bad record after the handshake (garbage, failed MAC, unexpected message)
    kTruncated,  // the peer ended the stream during the handshake (feed_eof)
};

// Where feed() hands decrypted bytes. The bytes are valid only during the call. The callee may
// call encrypt() or close() on the same session (a pong, a close frame) but not feed().
class PlaintextSink {
  public:
    virtual void on_plaintext(std::span<const std::uint8_t> bytes) noexcept = 0;

  protected:
    ~PlaintextSink() = default;
};

struct FeedOutcome {
    TlsState state;  // the state after the call
    bool opened;     // the handshake completed during this call (start the WebSocket upgrade)
};

class TlsSession {
  public:
    static constexpr std::size_t kMaxRecordPlaintext = 16384;   // RFC 8446 §5.1, RFC 5246 §6.2.1
    static constexpr std::size_t kOutputSoftLimit = 32 * 1024;  // encrypt() stops past this
    static constexpr std::size_t kInitialOutputBlock = 4096 - 32;  // first block, header excluded

    // A server session on `ctx` (one reference taken: a later TlsContext::reload() does not
    // affect it). Output blocks come from `pool`, which must outlive the session and every block
    // taken from it. Aborts when OpenSSL cannot allocate (as operator new would).
    TlsSession(SSL_CTX* ctx, core::BlockPool& pool);
    ~TlsSession();
    TlsSession(const TlsSession&) = delete;  // OpenSSL's BIO points at this object
    TlsSession& operator=(const TlsSession&) = delete;

    // Takes all of `ciphertext` (the bytes may be reused when it returns): sniffs the first bytes
    // of the stream (kPlainHttp / kNotTls), drives the handshake, and passes every decrypted byte
    // to `sink`. Handshake messages and alerts are appended to the output. A closed or failed
    // session ignores input. Never blocks, never calls the socket.
    FeedOutcome feed(std::span<const std::uint8_t> ciphertext, PlaintextSink& sink) noexcept;

    // The peer ended the stream (recv returned 0 or an error): kHandshaking -> kFailed
    // (kTruncated); kOpen -> kClosed. Returns the new state.
    TlsState feed_eof() noexcept;

    // Encrypts the bytes of `frames` in order, coalescing them into as few records as the 16 KiB
    // record limit allows (a frame of 16 KiB or more goes into records straight from its memory,
    // smaller ones are gathered in a staging buffer first). Returns how many plaintext bytes
    // went into records: all of them, or fewer once the output holds kOutputSoftLimit bytes
    // (take_output() and call again with the rest) or when the session is not kOpen (0).
    std::size_t encrypt(std::span<const iovec> frames) noexcept;

    // Sends close_notify (RFC 8446 §6.1) when open; the state becomes kClosed either way.
    void close() noexcept;

    // The ciphertext made so far (handshake replies, records, alerts) as one block the caller now
    // owns: send block->bytes() .. + block->size, then drop the reference. An empty ref when there
    // is nothing to send. The next output goes into a fresh block, so a block in flight is never
    // written to.
    core::BlockRef take_output() noexcept { return std::move(out_); }
    std::size_t output_bytes() const noexcept { return out_ ? out_->size : 0; }

    TlsState state() const noexcept { return state_; }
    TlsFailure failure() const noexcept { return failure_; }
    // One static phrase saying why (OpenSSL's reason, e.g. "wrong version number", or ours);
    // "" while nothing failed.
    std::string_view failure_detail() const noexcept { return detail_; }
    // The ALPN protocol selected ("http/1.1"), or "" when the client offered none (RFC 7301).
    std::string_view alpn() const noexcept;
    // "TLSv1.3", "TLSv1.2", ... once open.
    std::string_view version() const noexcept { return SSL_get_version(ssl_); }
    SSL* ssl() const noexcept { return ssl_; }  // the peer certificate, cipher, ... for logs

  private:
    friend struct TlsSessionBio;  // the BIO callbacks read in_ and append to out_

    bool sniff(std::span<const std::uint8_t> first) noexcept;
    void pump_reads(PlaintextSink& sink) noexcept;
    bool write_record(const std::uint8_t* data, std::size_t n) noexcept;
    void append_output(const std::uint8_t* data, std::size_t n) noexcept;
    void fail(TlsFailure why, const char* detail) noexcept;
    void fail_from_openssl(TlsFailure why) noexcept;

    SSL* ssl_ = nullptr;
    core::BlockPool* pool_;
    core::BlockRef out_;                // ciphertext not yet taken; no block while empty
    std::span<const std::uint8_t> in_;  // ciphertext of the current feed() not yet read
    bool eof_ = false;                  // the peer ended the stream
    bool sniffed_ = false;              // the stream's first bytes were classified
    TlsState state_ = TlsState::kHandshaking;
    TlsFailure failure_ = TlsFailure::kNone;
    const char* detail_ = "";  // static string, see failure_detail()
};

}  // namespace herald::net
