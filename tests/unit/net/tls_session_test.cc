// Tests for TlsSession: a client SSL (OpenSSL, memory BIOs) talks to a server session through
// memory, with a throw-away CA and certificates made for the test.
#include "net/tls_session.h"

#include <gtest/gtest.h>
#include <malloc.h>
#include <openssl/err.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/block.h"
#include "net/tls_context.h"
#include "tests/support/tls_test_pki.h"

namespace herald::net {
namespace {

struct Collector final : PlaintextSink {
    void on_plaintext(std::span<const std::uint8_t> bytes) noexcept override {
        text.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    }
    std::string text;
};

struct ClientOptions {
    int version = TLS1_3_VERSION;       // the only version the client offers
    std::string alpn = "\x08http/1.1";  // wire form; "" offers no ALPN
    bool present_certificate = false;
};

// An OpenSSL client whose network side is two memory BIOs.
class Client {
  public:
    Client(const test::TestPki& pki, const ClientOptions& o)
        : ctx_(SSL_CTX_new(TLS_client_method())) {
        SSL_CTX_set_min_proto_version(ctx_, o.version);
        SSL_CTX_set_max_proto_version(ctx_, o.version);
        SSL_CTX_load_verify_locations(ctx_, pki.path("ca.pem").c_str(), nullptr);
        SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
        if (o.present_certificate) {
            SSL_CTX_use_certificate(ctx_, pki.client_cert.get());
            SSL_CTX_use_PrivateKey(ctx_, pki.client_key.get());
        }
        ssl_ = SSL_new(ctx_);
        if (!o.alpn.empty()) {
            SSL_set_alpn_protos(ssl_, reinterpret_cast<const unsigned char*>(o.alpn.data()),
                                static_cast<unsigned>(o.alpn.size()));
        }
        in_ = BIO_new(BIO_s_mem());
        out_ = BIO_new(BIO_s_mem());
        SSL_set_bio(ssl_, in_, out_);
        SSL_set_connect_state(ssl_);
    }
    ~Client() {
        SSL_free(ssl_);
        SSL_CTX_free(ctx_);
    }

    SSL* ssl() const { return ssl_; }
    // Everything the client wrote to the network so far.
    std::string drain() {
        std::string out(BIO_ctrl_pending(out_), '\0');
        if (!out.empty()) BIO_read(out_, out.data(), static_cast<int>(out.size()));
        return out;
    }
    void receive(const core::BlockRef& b) {
        if (b) BIO_write(in_, b->bytes(), static_cast<int>(b->size));
    }
    void step() {
        if (!SSL_is_init_finished(ssl_)) SSL_do_handshake(ssl_);
    }
    std::string read_all() {
        std::string text;
        char buf[16384];
        for (int n; (n = SSL_read(ssl_, buf, sizeof buf)) > 0;)
            text.append(buf, static_cast<std::size_t>(n));
        return text;
    }

  private:
    SSL_CTX* ctx_;
    SSL* ssl_;
    BIO* in_;
    BIO* out_;
};

std::span<const std::uint8_t> bytes_of(const std::string& s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

struct Fixture {
    explicit Fixture(ClientOptions o = {}, bool require_client_certificate = false)
        : context(TlsContext::load({pki.path("chain.pem"), pki.path("server.key"),
                                    require_client_certificate ? pki.path("ca.pem") : ""})
                      .value()),
          session(context.get(), pool),
          client(pki, o) {}

    // Moves bytes both ways until neither side has anything to say (bounded).
    void pump() {
        for (int i = 0; i < 50; ++i) {
            client.step();
            const std::string c2s = client.drain();
            session.feed(bytes_of(c2s), sink);
            core::BlockRef s2c = session.take_output();
            if (c2s.empty() && !s2c) return;
            client.receive(s2c);
        }
    }

    test::TestPki pki;
    core::BlockPool pool;
    TlsContext context;
    TlsSession session;
    Client client;
    Collector sink;
};

// The record headers in a server's output: (type, length) per record (RFC 8446 §5.1).
std::vector<std::pair<int, std::size_t>> records_of(const std::string& wire) {
    std::vector<std::pair<int, std::size_t>> out;
    for (std::size_t i = 0; i + 5 <= wire.size();) {
        const auto len = static_cast<std::size_t>((static_cast<std::uint8_t>(wire[i + 3]) << 8) |
                                                  static_cast<std::uint8_t>(wire[i + 4]));
        out.emplace_back(static_cast<std::uint8_t>(wire[i]), len);
        i += 5 + len;
    }
    return out;
}

// Encrypts all of `frames`, taking the output each time encrypt() stops at its bound.
std::string encrypt_all(TlsSession& s, std::vector<iovec> frames) {
    std::string wire;
    std::size_t first = 0;
    while (first < frames.size()) {
        std::size_t n = s.encrypt({frames.data() + first, frames.size() - first});
        core::BlockRef out = s.take_output();
        EXPECT_TRUE(out) << "encrypt made no progress";
        if (!out) break;
        wire.append(reinterpret_cast<const char*>(out->bytes()), out->size);
        EXPECT_LE(out->size, TlsSession::kOutputSoftLimit + TlsSession::kMaxRecordPlaintext + 64);
        for (; first < frames.size() && n >= frames[first].iov_len; ++first)
            n -= frames[first].iov_len;
        if (first < frames.size()) {
            frames[first].iov_base = static_cast<char*>(frames[first].iov_base) + n;
            frames[first].iov_len -= n;
        }
    }
    return wire;
}

TEST(TlsSession, CompletesTls13HandshakeAndSelectsHttp11) {
    Fixture f;
    f.pump();
    EXPECT_EQ(f.session.state(), TlsState::kOpen);
    EXPECT_TRUE(SSL_is_init_finished(f.client.ssl()));
    EXPECT_EQ(f.session.version(), "TLSv1.3");
    EXPECT_EQ(f.session.alpn(), "http/1.1");
}

TEST(TlsSession, CompletesTls12Handshake) {
    Fixture f(ClientOptions{.version = TLS1_2_VERSION});
    f.pump();
    EXPECT_EQ(f.session.state(), TlsState::kOpen);
    EXPECT_EQ(f.session.version(), "TLSv1.2");
    EXPECT_EQ(f.session.alpn(), "http/1.1");
}

TEST(TlsSession, ServesAClientThatOffersNoAlpn) {
    Fixture f(ClientOptions{.alpn = ""});
    f.pump();
    EXPECT_EQ(f.session.state(), TlsState::kOpen);
    EXPECT_EQ(f.session.alpn(), "");
}

TEST(TlsSession, RefusesAClientWhoseAlpnLacksHttp11) {
    Fixture f(ClientOptions{.alpn = std::string("\x02h2", 3)});
    f.pump();
    EXPECT_EQ(f.session.state(), TlsState::kFailed);
    EXPECT_EQ(f.session.failure(), TlsFailure::kHandshake);
}

TEST(TlsSession, ReportsOpenedOnceInTheFeedThatFinishesTheHandshake) {
    Fixture f;
    int opened = 0;
    for (int i = 0; i < 10; ++i) {
        f.client.step();
        opened += f.session.feed(bytes_of(f.client.drain()), f.sink).opened ? 1 : 0;
        f.client.receive(f.session.take_output());
    }
    EXPECT_EQ(opened, 1);
}

void expect_round_trip(const ClientOptions& o) {
    Fixture f(o);
    f.pump();
    ASSERT_EQ(f.session.state(), TlsState::kOpen);
    std::string up(1 << 20, '\0');
    for (std::size_t i = 0; i < up.size(); ++i) up[i] = static_cast<char>(i * 7 + i / 251);
    // Client to server, fed in 4 KiB pieces as recv buffers would bring it.
    ASSERT_EQ(SSL_write(f.client.ssl(), up.data(), static_cast<int>(up.size())), 1 << 20);
    const std::string wire = f.client.drain();
    for (std::size_t i = 0; i < wire.size(); i += 4096) {
        f.session.feed(bytes_of(wire.substr(i, 4096)), f.sink);
    }
    EXPECT_EQ(f.sink.text, up);
    // Server to client, one frame.
    std::string down = up;
    std::reverse(down.begin(), down.end());
    f.client.receive(core::BlockRef());
    const std::string out = encrypt_all(f.session, {iovec{down.data(), down.size()}});
    BIO_write(SSL_get_rbio(f.client.ssl()), out.data(), static_cast<int>(out.size()));
    EXPECT_EQ(f.client.read_all(), down);
    EXPECT_EQ(f.session.state(), TlsState::kOpen);
}

TEST(TlsSession, CarriesOneMebibyteBothWaysOverTls13) { expect_round_trip({}); }

TEST(TlsSession, CarriesOneMebibyteBothWaysOverTls12) {
    expect_round_trip(ClientOptions{.version = TLS1_2_VERSION});
}

TEST(TlsSession, CoalescesManySmallFramesIntoFullRecords) {
    Fixture f;
    f.pump();
    std::vector<std::string> frames(1000, std::string(100, 'x'));  // 100,000 bytes
    std::vector<iovec> iov;
    for (std::string& s : frames) iov.push_back({s.data(), s.size()});
    const std::string wire = encrypt_all(f.session, iov);
    const auto records = records_of(wire);
    EXPECT_EQ(records.size(), 7u);                                // ceil(100000 / 16384)
    for (const auto& [type, len] : records) EXPECT_EQ(type, 23);  // application_data
    BIO_write(SSL_get_rbio(f.client.ssl()), wire.data(), static_cast<int>(wire.size()));
    EXPECT_EQ(f.client.read_all(), std::string(100000, 'x'));
}

TEST(TlsSession, StopsEncryptingAtTheOutputBoundUntilOutputIsTaken) {
    Fixture f;
    f.pump();
    std::string big(256 * 1024, 'y');
    const iovec frame{big.data(), big.size()};
    const std::size_t n = f.session.encrypt({&frame, 1});
    EXPECT_LT(n, big.size());
    EXPECT_GE(f.session.output_bytes(), TlsSession::kOutputSoftLimit);
    EXPECT_EQ(f.session.encrypt({&frame, 1}), 0u);  // output not taken yet
    EXPECT_TRUE(f.session.take_output());
    EXPECT_EQ(f.session.output_bytes(), 0u);  // an idle session holds no block
}

TEST(TlsSession, FailsOnGarbageAfterTheHandshake) {
    Fixture f;
    f.pump();
    const std::string garbage(64, '\x17');
    EXPECT_EQ(f.session.feed(bytes_of(garbage), f.sink).state, TlsState::kFailed);
    EXPECT_EQ(f.session.failure(), TlsFailure::kProtocol);
    EXPECT_NE(f.session.failure_detail(), "");
    EXPECT_EQ(f.session.encrypt({}), 0u);
    EXPECT_TRUE(f.sink.text.empty());
}

TEST(TlsSession, RecognisesPlainHttpOnTheTlsPort) {
    Fixture f;
    const std::string get = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    EXPECT_EQ(f.session.feed(bytes_of(get), f.sink).state, TlsState::kFailed);
    EXPECT_EQ(f.session.failure(), TlsFailure::kPlainHttp);
    EXPECT_FALSE(f.session.take_output());  // nothing encrypted to send: the caller answers
}

TEST(TlsSession, RejectsAStreamThatIsNeitherTlsNorHttp) {
    Fixture f;
    const std::string junk = "\x01\x02\x03junk";
    EXPECT_EQ(f.session.feed(bytes_of(junk), f.sink).state, TlsState::kFailed);
    EXPECT_EQ(f.session.failure(), TlsFailure::kNotTls);
}

TEST(TlsSession, FailsATruncatedClientHelloAtEndOfStream) {
    Fixture f;
    f.client.step();
    const std::string hello = f.client.drain();
    ASSERT_GT(hello.size(), 20u);
    const FeedOutcome o = f.session.feed(bytes_of(hello.substr(0, hello.size() / 2)), f.sink);
    EXPECT_EQ(o.state, TlsState::kHandshaking);
    EXPECT_FALSE(f.session.take_output());
    EXPECT_EQ(f.session.feed_eof(), TlsState::kFailed);
    EXPECT_EQ(f.session.failure(), TlsFailure::kTruncated);
}

TEST(TlsSession, FailsWhenARequiredClientCertificateIsMissing) {
    Fixture f({}, true);
    f.pump();
    EXPECT_EQ(f.session.state(), TlsState::kFailed);
    EXPECT_EQ(f.session.failure(), TlsFailure::kHandshake);
}

TEST(TlsSession, AcceptsARequiredClientCertificateSignedByTheCa) {
    Fixture f(ClientOptions{.present_certificate = true}, true);
    f.pump();
    EXPECT_EQ(f.session.state(), TlsState::kOpen);
    EXPECT_NE(SSL_get0_peer_certificate(f.session.ssl()), nullptr);
}

TEST(TlsSession, AnswersThePeersCloseNotifyAndCloses) {
    Fixture f;
    f.pump();
    SSL_shutdown(f.client.ssl());
    EXPECT_EQ(f.session.feed(bytes_of(f.client.drain()), f.sink).state, TlsState::kClosed);
    core::BlockRef reply = f.session.take_output();
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->bytes()[0], 23);  // TLS 1.3 hides the alert in an application_data record
}

TEST(TlsSession, ClosesWhenThePeerEndsTheStreamAfterTheHandshake) {
    Fixture f;
    f.pump();
    EXPECT_EQ(f.session.feed_eof(), TlsState::kClosed);
    EXPECT_EQ(f.session.failure(), TlsFailure::kNone);
}

#if !defined(HERALD_SANITIZED)
// What an open, idle session keeps on the heap (the SSL object once its record buffers were given
// back, SSL_MODE_RELEASE_BUFFERS); the figure docs/PERFORMANCE.md quotes for wss connections.
TEST(TlsSession, KeepsAnIdleOpenSessionSmall) {
    constexpr int kSessions = 100;
    test::TestPki pki;
    core::BlockPool pool;
    TlsContext context =
        TlsContext::load({pki.path("chain.pem"), pki.path("server.key"), ""}).value();
    std::vector<std::unique_ptr<TlsSession>> sessions;
    Collector sink;
    for (int i = 0; i < kSessions; ++i) {
        auto client = std::make_unique<Client>(pki, ClientOptions{});
        sessions.push_back(std::make_unique<TlsSession>(context.get(), pool));
        for (int step = 0; step < 10; ++step) {
            client->step();
            sessions.back()->feed(bytes_of(client->drain()), sink);
            client->receive(sessions.back()->take_output());
        }
        ASSERT_EQ(sessions.back()->state(), TlsState::kOpen);
    }
    const std::size_t with_sessions = mallinfo2().uordblks;
    sessions.clear();
    const std::size_t per_session = (with_sessions - mallinfo2().uordblks) / kSessions;
    RecordProperty("idle_session_bytes", static_cast<int>(per_session));
    EXPECT_LT(per_session, 16u * 1024);
}
#endif

}  // namespace
}  // namespace herald::net
