// herald-load's wss:// side: an OpenSSL client on the loader's non-blocking sockets (socket
// BIOs), no certificate verification unless --ca names a bundle. The loader calls io_send /
// io_recv wherever it would call send / recv; they behave like them (EAGAIN included).
#pragma once

#include <openssl/ssl.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace herald::load {

// A client context: TLS 1.2+, ALPN http/1.1, partial writes with a moving buffer (the loader
// retries from its own out buffer). ca: a PEM bundle to verify the server against (the name is
// not checked: the load generator trusts the operator's bundle); "" = no verification. Null when
// the bundle cannot be read.
SSL_CTX* make_client_ctx(const std::string& ca);

// A client session on the connected non-blocking socket fd, SNI `host`.
SSL* make_session(SSL_CTX* ctx, int fd, const std::string& host);

enum class TlsStep : std::uint8_t { kDone, kPending, kFailed };
// Drives the client handshake; kPending: wait for the socket.
TlsStep handshake(SSL* ssl);

// send(2) / recv(2) on fd, or SSL_write / SSL_read when ssl is set: bytes, 0 at EOF (recv), or
// -1 with errno EAGAIN (retry when the socket is ready) or EPIPE (the connection failed).
ssize_t io_send(int fd, SSL* ssl, const void* data, std::size_t n);
ssize_t io_recv(int fd, SSL* ssl, void* buf, std::size_t n);

}  // namespace herald::load
