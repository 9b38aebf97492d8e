// wss:// against bad input: plain HTTP on the TLS port, a truncated ClientHello, a client that
// stops mid-handshake, garbage after the handshake, a broken certificate on SIGHUP, and bad
// certificate or key files at start-up, client certificates under --tls-ca. Each case ends the
// way docs/OPERATIONS.md says, and the server keeps serving others.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include "tests/support/herald_process.h"
#include "tests/support/tls_test_pki.h"
#include "tests/support/ws_client.h"

namespace herald::test {
namespace {

using Clock = std::chrono::steady_clock;

// The first bytes of a ClientHello: a handshake record announcing 512 bytes, then 11 of them.
const std::string kTruncatedHello("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\xaa\xbb\xcc\xdd",
                                  15);

// Reads from fd until EOF or reset (true) or until timeout_ms pass (false); what came is in *out.
bool read_until_eof(int fd, int timeout_ms, std::string* out = nullptr) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    char buf[4096];
    while (Clock::now() < deadline) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) return true;
        if (out != nullptr) out->append(buf, static_cast<std::size_t>(n));
    }
    return false;
}

int count(const std::string& text, const std::string& what) {
    int n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
}

void write_file(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::trunc) << text;
}

class TlsBadInput : public ::testing::Test {
  protected:
    void SetUp() override {
        pki_.write_chain(cert_);
        herald_ = std::make_unique<HeraldProcess>(
            std::vector<std::string>{"--workers", "1", "--tls-cert", cert_, "--tls-key",
                                     pki_.path("server.key"), "--handshake-timeout", "2s"});
        ASSERT_TRUE(herald_->ok()) << herald_->stderr_text();
    }
    // The server still completes a TLS handshake and the seed's round trip.
    void ExpectStillServing() {
        std::string error;
        auto ws = WsClient::connect_tls(herald_->port(), &error);
        ASSERT_TRUE(ws) << error;
        ws->add_group("alive");
        ws->send_to_group("alive", "yes");
        EXPECT_EQ(ws->read_text(), "yes");
    }

    TestPki pki_;
    std::string cert_ = pki_.path("live.pem");  // a copy SIGHUP tests may break
    std::unique_ptr<HeraldProcess> herald_;
};

TEST_F(TlsBadInput, PlainHttpGetsA400LineAndIsClosed) {
    const int fd = tcp_connect(herald_->port());
    ASSERT_GE(fd, 0);
    const std::string request = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    ASSERT_EQ(::send(fd, request.data(), request.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(request.size()));
    std::string answer;
    EXPECT_TRUE(read_until_eof(fd, 10000, &answer));
    close(fd);
    EXPECT_TRUE(answer.starts_with("HTTP/1.1 400 ")) << answer;
    EXPECT_NE(answer.find("this port speaks TLS"), std::string::npos) << answer;
    ExpectStillServing();
}

TEST_F(TlsBadInput, TruncatedClientHelloThenEofIsClosed) {
    const int fd = tcp_connect(herald_->port());
    ASSERT_GE(fd, 0);
    ::send(fd, kTruncatedHello.data(), kTruncatedHello.size(), MSG_NOSIGNAL);
    shutdown(fd, SHUT_WR);
    EXPECT_TRUE(read_until_eof(fd, 10000));
    close(fd);
    ExpectStillServing();
}

TEST_F(TlsBadInput, ClientStoppingMidHandshakeIsClosedAtTheDeadline) {
    const int fd = tcp_connect(herald_->port());
    ASSERT_GE(fd, 0);
    const auto start = Clock::now();
    ::send(fd, kTruncatedHello.data(), kTruncatedHello.size(), MSG_NOSIGNAL);
    EXPECT_TRUE(read_until_eof(fd, 30000)) << "closed at --handshake-timeout (2 s)";
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
    EXPECT_GE(took.count(), 1500) << "not before the deadline";
    close(fd);
    EXPECT_EQ(stats_total_tls(herald_->port(), "closes_timeout"), 1u);
    ExpectStillServing();
}

TEST_F(TlsBadInput, GarbageAfterTheHandshakeIsClosed) {
    std::string error;
    auto ws = WsClient::connect_tls(herald_->port(), &error);
    ASSERT_TRUE(ws) << error;
    const std::string garbage(64, '\x17');  // an application-data record header, then junk
    ASSERT_GT(::send(ws->fd(), garbage.data(), garbage.size(), MSG_NOSIGNAL), 0);
    EXPECT_TRUE(read_until_eof(ws->fd(), 10000));
    ExpectStillServing();
}

TEST_F(TlsBadInput, SighupWithABrokenCertificateKeepsTheOldOneServing) {
    write_file(cert_,
               "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n");
    ASSERT_EQ(kill(herald_->pid(), SIGHUP), 0);
    const auto deadline = Clock::now() + std::chrono::seconds(20);
    std::string err;
    while (count(err = herald_->stderr_text(), "TLS reload failed") == 0 &&
           Clock::now() < deadline) {
        usleep(20000);
    }
    EXPECT_EQ(count(err, "TLS reload failed"), 1) << err;
    EXPECT_NE(err.find(cert_), std::string::npos) << "the line names the file: " << err;
    ExpectStillServing();

    pki_.write_chain(cert_);  // fixed: the next SIGHUP takes it
    ASSERT_EQ(kill(herald_->pid(), SIGHUP), 0);
    while (count(err = herald_->stderr_text(), "TLS certificate reloaded") == 0 &&
           Clock::now() < deadline) {
        usleep(20000);
    }
    EXPECT_EQ(count(err, "TLS certificate reloaded"), 1) << err;
    EXPECT_EQ(count(err, "TLS reload failed"), 1) << err;
    ExpectStillServing();
}

// A bad certificate or key at start-up: exit 1 with one line naming the file and the problem.
void ExpectStartupFailure(const std::vector<std::string>& tls, const std::string& file,
                          const char* workers) {
    std::vector<std::string> argv = {herald_binary(), "--listen", "127.0.0.1:0", "--workers",
                                     workers};
    argv.insert(argv.end(), tls.begin(), tls.end());
    const RunResult r = run_program(argv);
    EXPECT_EQ(r.status, 1) << r.err;
    EXPECT_EQ(count(r.err, "\n"), 1) << "one line: " << r.err;
    EXPECT_TRUE(r.err.starts_with("herald: ")) << r.err;
    EXPECT_NE(r.err.find(file), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "") << "never listening";
}

TEST(TlsStartup, BadCertificateOrKeyIsOneLineAndExit1) {
    TestPki pki;
    const std::string cert = pki.path("chain.pem");
    const std::string missing = pki.path("missing.key");
    const std::string garbage = pki.path("garbage.pem");
    write_file(garbage, "hello\n");
    for (const char* workers : {"1", "2"}) {
        ExpectStartupFailure({"--tls-cert", cert, "--tls-key", missing}, missing, workers);
        ExpectStartupFailure({"--tls-cert", cert, "--tls-key", pki.path("other.key")},
                             pki.path("other.key"), workers);
        ExpectStartupFailure({"--tls-cert", garbage, "--tls-key", pki.path("server.key")}, garbage,
                             workers);
        ExpectStartupFailure(
            {"--tls-cert", cert, "--tls-key", pki.path("server.key"), "--tls-ca", garbage}, garbage,
            workers);
    }
}

TEST(TlsStartup, CertificateWithoutKeyIsAFlagError) {
    TestPki pki;
    const RunResult r = run_program(
        {herald_binary(), "--listen", "127.0.0.1:0", "--tls-cert", pki.path("chain.pem")});
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_NE(r.err.find("--tls-key"), std::string::npos) << r.err;
}

// Sends a WebSocket upgrade over TLS, presenting `cert`/`key` when given; returns the first
// bytes of the answer ("" when the handshake or the exchange failed).
std::string upgrade_with_client_cert(std::uint16_t port, const std::string& cert,
                                     const std::string& key) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    if (!cert.empty()) {
        SSL_CTX_use_certificate_file(ctx, cert.c_str(), SSL_FILETYPE_PEM);
        SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM);
    }
    const int fd = tcp_connect(port);
    const timeval tv{10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    SSL* ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    const std::string request =
        "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    std::string answer;
    char buf[256];
    int n = 0;
    if (SSL_connect(ssl) == 1 &&
        SSL_write(ssl, request.data(), static_cast<int>(request.size())) > 0 &&
        (n = SSL_read(ssl, buf, sizeof buf)) > 0) {
        answer.assign(buf, static_cast<std::size_t>(n));
    }
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    close(fd);
    return answer;
}

TEST(TlsClientCertificates, RequiredAndCheckedWhenTlsCaIsGiven) {
    TestPki pki;
    HeraldProcess herald({"--workers", "1", "--tls-cert", pki.path("chain.pem"), "--tls-key",
                          pki.path("server.key"), "--tls-ca", pki.path("ca.pem")});
    ASSERT_TRUE(herald.ok()) << herald.stderr_text();
    EXPECT_TRUE(
        upgrade_with_client_cert(herald.port(), pki.path("client.pem"), pki.path("client.key"))
            .starts_with("HTTP/1.1 101"));
    EXPECT_EQ(upgrade_with_client_cert(herald.port(), "", ""), "") << "no certificate: refused";
    // A self-signed client certificate: the CA did not sign it.
    const X509Ptr stranger =
        make_cert("stranger", pki.other_key.get(), nullptr, pki.other_key.get(), false, 9);
    write_pem(pki.path("stranger.pem"), stranger.get());
    EXPECT_EQ(
        upgrade_with_client_cert(herald.port(), pki.path("stranger.pem"), pki.path("other.key")),
        "")
        << "a certificate from another issuer: refused";
}

}  // namespace
}  // namespace herald::test
