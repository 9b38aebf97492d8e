#include "net/tls_session.h"

#include <openssl/err.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>

#include "core/assert.h"
#include "core/block.h"

namespace herald::net {

// The BIO between OpenSSL and a TlsSession: reads come from the session's in_ span (no copy of
// the ciphertext), writes are appended to its output block. Defined here, befriended by the
// session, so the session's fields stay private.
struct TlsSessionBio {
    static TlsSession* session(BIO* bio) noexcept {
        return static_cast<TlsSession*>(BIO_get_data(bio));
    }

    static int read(BIO* bio, char* buf, std::size_t len, std::size_t* done) noexcept {
        TlsSession* s = session(bio);
        BIO_clear_retry_flags(bio);
        if (s->in_.empty()) {
            *done = 0;
            if (!s->eof_) BIO_set_retry_read(bio);  // no retry flag: the stream ended
            return 0;
        }
        const std::size_t n = std::min(len, s->in_.size());
        std::memcpy(buf, s->in_.data(), n);
        s->in_ = s->in_.subspan(n);
        *done = n;
        return 1;
    }

    static int write(BIO* bio, const char* buf, std::size_t len, std::size_t* done) noexcept {
        BIO_clear_retry_flags(bio);
        session(bio)->append_output(reinterpret_cast<const std::uint8_t*>(buf), len);
        *done = len;
        return 1;
    }

    static long ctrl(BIO* bio, int cmd, long, void*) noexcept {
        switch (cmd) {
            case BIO_CTRL_FLUSH:
                return 1;
            case BIO_CTRL_EOF:
                return session(bio)->eof_ ? 1 : 0;
            case BIO_CTRL_PENDING:
                return static_cast<long>(session(bio)->in_.size());
            default:
                return 0;  // no kTLS, no dgram, no push/pop
        }
    }

    static int create(BIO* bio) noexcept {
        BIO_set_init(bio, 1);
        return 1;
    }

    struct MethodFree {
        void operator()(BIO_METHOD* m) const noexcept { BIO_meth_free(m); }
    };

    // One method table per process, made on first use.
    static const BIO_METHOD* method() {
        static const std::unique_ptr<BIO_METHOD, MethodFree> m = [] {
            BIO_METHOD* bm = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "herald");
            HERALD_ASSERT(bm != nullptr);
            BIO_meth_set_read_ex(bm, read);
            BIO_meth_set_write_ex(bm, write);
            BIO_meth_set_ctrl(bm, ctrl);
            BIO_meth_set_create(bm, create);
            return std::unique_ptr<BIO_METHOD, MethodFree>(bm);
        }();
        return m.get();
    }
};

namespace {

// Per-thread scratch shared by every session of the loop: SSL_read's plaintext, and the staging
// area where small frames are gathered into one record. Separate, because a sink may encrypt.
thread_local std::array<std::uint8_t, TlsSession::kMaxRecordPlaintext> t_plaintext;
thread_local std::array<std::uint8_t, TlsSession::kMaxRecordPlaintext> t_staging;

// OpenSSL's error queue is per thread and SSL_get_error() reads it: start each call clean.
void clear_stale_errors() noexcept {
    if (ERR_peek_error() != 0) ERR_clear_error();
}

bool is_http_method_char(std::uint8_t c) noexcept { return (c >= 'A' && c <= 'Z') || c == ' '; }

}  // namespace

TlsSession::TlsSession(SSL_CTX* ctx, core::BlockPool& pool) : pool_(&pool) {
    ssl_ = SSL_new(ctx);
    HERALD_ASSERT(ssl_ != nullptr);
    BIO* bio = BIO_new(TlsSessionBio::method());
    HERALD_ASSERT(bio != nullptr);
    BIO_set_data(bio, this);
    SSL_set_bio(ssl_, bio, bio);  // one BIO both ways: the SSL owns its single reference
    SSL_set_accept_state(ssl_);
}

TlsSession::~TlsSession() { SSL_free(ssl_); }

std::string_view TlsSession::alpn() const noexcept {
    const unsigned char* p = nullptr;
    unsigned int n = 0;
    SSL_get0_alpn_selected(ssl_, &p, &n);
    return p == nullptr ? std::string_view()
                        : std::string_view(reinterpret_cast<const char*>(p), n);
}

void TlsSession::fail(TlsFailure why, const char* detail) noexcept {
    state_ = TlsState::kFailed;
    failure_ = why;
    detail_ = detail;
    in_ = {};
}

void TlsSession::fail_from_openssl(TlsFailure why) noexcept {
    const unsigned long code = ERR_peek_last_error();
    const char* reason = code != 0 ? ERR_reason_error_string(code) : nullptr;
    ERR_clear_error();
    fail(why, reason != nullptr ? reason : "TLS error");
}

// A TLS stream starts with a handshake record: type 22 (RFC 8446 §5.1). An HTTP request starts
// with an upper-case method and a space (RFC 9110 §9.1).
bool TlsSession::sniff(std::span<const std::uint8_t> first) noexcept {
    sniffed_ = true;
    if (first[0] == 0x16) return true;
    const std::size_t n = std::min<std::size_t>(first.size(), 4);
    const bool http =
        first[0] >= 'A' && first[0] <= 'Z' &&
        std::all_of(first.begin(), first.begin() + static_cast<long>(n), is_http_method_char);
    if (http) {
        fail(TlsFailure::kPlainHttp, "plain HTTP on a TLS port");
    } else {
        fail(TlsFailure::kNotTls, "not a TLS handshake record");
    }
    return false;
}

FeedOutcome TlsSession::feed(std::span<const std::uint8_t> ciphertext,
                             PlaintextSink& sink) noexcept {
    if (state_ == TlsState::kClosed || state_ == TlsState::kFailed || ciphertext.empty()) {
        return {state_, false};
    }
    if (!sniffed_ && !sniff(ciphertext)) return {state_, false};
    const bool was_open = state_ == TlsState::kOpen;
    clear_stale_errors();
    in_ = ciphertext;
    pump_reads(sink);
    HERALD_DCHECK(in_.empty() || state_ != TlsState::kOpen);
    in_ = {};
    return {state_, !was_open && state_ == TlsState::kOpen};
}

void TlsSession::pump_reads(PlaintextSink& sink) noexcept {
    for (;;) {
        std::size_t n = 0;
        const int r = SSL_read_ex(ssl_, t_plaintext.data(), t_plaintext.size(), &n);
        if (state_ == TlsState::kHandshaking && SSL_is_init_finished(ssl_)) {
            state_ = TlsState::kOpen;
        }
        if (r == 1) {
            sink.on_plaintext({t_plaintext.data(), n});
            if (state_ != TlsState::kOpen) return;  // the sink closed the session
            continue;
        }
        switch (SSL_get_error(ssl_, r)) {
            case SSL_ERROR_WANT_READ:
                return;                  // every byte given was used
            case SSL_ERROR_ZERO_RETURN:  // the peer's close_notify: answer with ours
                close();
                return;
            default:
                fail_from_openssl(state_ == TlsState::kHandshaking ? TlsFailure::kHandshake
                                                                   : TlsFailure::kProtocol);
                return;
        }
    }
}

TlsState TlsSession::feed_eof() noexcept {
    eof_ = true;
    if (state_ == TlsState::kHandshaking) {
        fail(TlsFailure::kTruncated, "the peer ended the stream during the handshake");
    } else if (state_ == TlsState::kOpen) {
        state_ = TlsState::kClosed;
        detail_ = "the peer ended the stream without close_notify";
    }
    return state_;
}

void TlsSession::close() noexcept {
    if (state_ == TlsState::kOpen) {
        clear_stale_errors();
        SSL_shutdown(ssl_);  // writes close_notify into the output; we do not wait for the reply
        ERR_clear_error();
    }
    if (state_ != TlsState::kFailed) state_ = TlsState::kClosed;
}

void TlsSession::append_output(const std::uint8_t* data, std::size_t n) noexcept {
    if (!out_) {
        out_ = core::BlockRef::adopt(pool_->acquire(std::max(n, kInitialOutputBlock)));
    }
    const std::size_t kept = out_->size;
    const std::size_t need = kept + n;
    if (need > out_->capacity()) {
        const std::size_t want = std::max(need, 2 * out_->capacity());
        out_ = core::BlockRef::adopt(pool_->grow(out_.release(), want, kept));
    }
    std::memcpy(out_->data() + out_->size, data, n);
    out_->size = static_cast<std::uint32_t>(need);
}

bool TlsSession::write_record(const std::uint8_t* data, std::size_t n) noexcept {
    std::size_t written = 0;
    if (SSL_write_ex(ssl_, data, n, &written) == 1 && written == n) return true;
    fail_from_openssl(TlsFailure::kProtocol);
    return false;
}

std::size_t TlsSession::encrypt(std::span<const iovec> frames) noexcept {
    if (state_ != TlsState::kOpen) return 0;
    clear_stale_errors();
    std::size_t consumed = 0;  // bytes already in records
    std::size_t staged = 0;    // bytes gathered in t_staging, not yet a record
    const auto room = [this] { return output_bytes() < kOutputSoftLimit; };
    for (const iovec& frame : frames) {
        const auto* p = static_cast<const std::uint8_t*>(frame.iov_base);
        std::size_t left = frame.iov_len;
        while (left > 0) {
            if (staged == 0 && left >= kMaxRecordPlaintext) {  // a whole record, no copy
                if (!room() || !write_record(p, kMaxRecordPlaintext)) return consumed;
                p += kMaxRecordPlaintext;
                left -= kMaxRecordPlaintext;
                consumed += kMaxRecordPlaintext;
                continue;
            }
            const std::size_t take = std::min(left, kMaxRecordPlaintext - staged);
            std::memcpy(t_staging.data() + staged, p, take);
            staged += take;
            p += take;
            left -= take;
            if (staged < kMaxRecordPlaintext) continue;
            if (!room() || !write_record(t_staging.data(), staged)) return consumed;
            consumed += staged;
            staged = 0;
        }
    }
    if (staged > 0 && room() && write_record(t_staging.data(), staged)) consumed += staged;
    return consumed;
}

}  // namespace herald::net
