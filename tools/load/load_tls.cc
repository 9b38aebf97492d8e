#include "tools/load/load_tls.h"

#include <sys/socket.h>

#include <cerrno>

namespace herald::load {
namespace {

// -1 with errno EAGAIN when OpenSSL waits for the socket, EPIPE when the session failed.
ssize_t would_block_or_fail(SSL* ssl, int r) {
    const int e = SSL_get_error(ssl, r);
    errno = (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) ? EAGAIN : EPIPE;
    return -1;
}

}  // namespace

SSL_CTX* make_client_ctx(const std::string& ca) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == nullptr) return nullptr;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    static const unsigned char kAlpn[] = "\x08http/1.1";
    SSL_CTX_set_alpn_protos(ctx, kAlpn, sizeof kAlpn - 1);
    if (!ca.empty()) {
        if (SSL_CTX_load_verify_locations(ctx, ca.c_str(), nullptr) != 1) {
            SSL_CTX_free(ctx);
            return nullptr;
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    }
    return ctx;
}

SSL* make_session(SSL_CTX* ctx, int fd, const std::string& host) {
    SSL* ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    SSL_set_connect_state(ssl);
    std::string name = host;  // SSL_set_tlsext_host_name is a macro with a C cast
    SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, name.data());
    return ssl;
}

TlsStep handshake(SSL* ssl) {
    const int r = SSL_do_handshake(ssl);
    if (r == 1) return TlsStep::kDone;
    const int e = SSL_get_error(ssl, r);
    return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? TlsStep::kPending
                                                                 : TlsStep::kFailed;
}

ssize_t io_send(int fd, SSL* ssl, const void* data, std::size_t n) {
    if (ssl == nullptr) return ::send(fd, data, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    const int r = SSL_write(ssl, data, static_cast<int>(n));
    return r > 0 ? r : would_block_or_fail(ssl, r);
}

ssize_t io_recv(int fd, SSL* ssl, void* buf, std::size_t n) {
    if (ssl == nullptr) return ::recv(fd, buf, n, MSG_DONTWAIT);
    const int r = SSL_read(ssl, buf, static_cast<int>(n));
    if (r > 0) return r;
    if (SSL_get_error(ssl, r) == SSL_ERROR_ZERO_RETURN) return 0;  // close_notify
    return would_block_or_fail(ssl, r);
}

}  // namespace herald::load
