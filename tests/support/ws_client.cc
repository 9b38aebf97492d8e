#include "tests/support/ws_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>
#include <random>

#include "core/unmask.h"

namespace herald::test {
namespace {

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    return static_cast<int>(std::max<long long>(0, left.count()));
}

bool write_all(int fd, const void* data, std::size_t n) {
    const auto* p = static_cast<const char*>(data);
    while (n > 0) {
        const ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0) return false;
        p += w;
        n -= static_cast<std::size_t>(w);
    }
    return true;
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

// The test clients' TLS context: TLS 1.2+, ALPN http/1.1, no certificate verification.
SSL_CTX* client_ctx() {
    static SSL_CTX* const ctx = [] {
        SSL_CTX* c = SSL_CTX_new(TLS_client_method());
        SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
        static const unsigned char kAlpn[] = "\x08http/1.1";
        SSL_CTX_set_alpn_protos(c, kAlpn, sizeof kAlpn - 1);
        return c;
    }();
    return ctx;
}

void set_server_name(SSL* ssl) {
    static char name[] = "localhost";  // SSL_set_tlsext_host_name is a macro with a C cast
    SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, name);
}

}  // namespace

std::string https_exchange(std::uint16_t port, std::string_view request, int timeout_ms) {
    const int fd = tcp_connect(port);
    if (fd < 0) return "";
    const timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    SSL* ssl = SSL_new(client_ctx());
    SSL_set_fd(ssl, fd);
    set_server_name(ssl);
    std::string out;
    if (SSL_connect(ssl) == 1 &&
        SSL_write(ssl, request.data(), static_cast<int>(request.size())) > 0) {
        char buf[4096];
        int n = 0;
        while ((n = SSL_read(ssl, buf, sizeof buf)) > 0)
            out.append(buf, static_cast<std::size_t>(n));
    }
    SSL_free(ssl);
    close(fd);
    return out;
}

std::uint16_t Frame::close_code() const {
    if (payload.size() < 2) return net::close_code::kNoStatus;
    return static_cast<std::uint16_t>((static_cast<std::uint8_t>(payload[0]) << 8) |
                                      static_cast<std::uint8_t>(payload[1]));
}

std::string Frame::close_reason() const { return payload.size() > 2 ? payload.substr(2) : ""; }

int tcp_connect(std::uint16_t port, const char* host) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    inet_pton(AF_INET, host, &addr.sin_addr);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        close(fd);
        return -1;
    }
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

std::string http_exchange(std::uint16_t port, std::string_view request, int timeout_ms,
                          const char* host) {
    const int fd = tcp_connect(port, host);
    if (fd < 0) return "";
    write_all(fd, request.data(), request.size());
    std::string out;
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    char buf[4096];
    while (true) {
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, remaining_ms(deadline)) <= 0) break;
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        out.append(buf, static_cast<std::size_t>(n));
    }
    close(fd);
    return out;
}

std::unique_ptr<WsClient> WsClient::connect(std::uint16_t port, std::string* error,
                                            std::string_view path, const char* host) {
    const int fd = tcp_connect(port, host);
    if (fd < 0) {
        if (error != nullptr) *error = "connect failed: " + std::string(std::strerror(errno));
        return nullptr;
    }
    return upgrade(std::unique_ptr<WsClient>(new WsClient(fd)), path, error);
}

std::unique_ptr<WsClient> WsClient::connect_tls(std::uint16_t port, std::string* error,
                                                std::string_view path) {
    SSL_CTX* const ctx = client_ctx();
    const int fd = tcp_connect(port);
    if (fd < 0) {
        if (error != nullptr) *error = "connect failed: " + std::string(std::strerror(errno));
        return nullptr;
    }
    std::unique_ptr<WsClient> client(new WsClient(fd));
    client->ssl_ = SSL_new(ctx);
    SSL_set_fd(client->ssl_, fd);
    set_server_name(client->ssl_);
    if (SSL_connect(client->ssl_) != 1) {
        if (error != nullptr) *error = "TLS handshake failed";
        return nullptr;
    }
    return upgrade(std::move(client), path, error);
}

std::unique_ptr<WsClient> WsClient::upgrade(std::unique_ptr<WsClient> client, std::string_view path,
                                            std::string* error) {
    const auto fail = [&](const std::string& why) -> std::unique_ptr<WsClient> {
        if (error != nullptr) *error = why;
        return nullptr;
    };
    std::string request = "GET " + std::string(path) +
                          " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                          "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                          "Sec-WebSocket-Version: 13\r\n\r\n";
    if (!client->write_bytes(request.data(), request.size())) return fail("request write failed");
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    std::size_t end = std::string::npos;
    while ((end = client->buffer_.find("\r\n\r\n")) == std::string::npos) {
        if (!client->fill(remaining_ms(deadline)))
            return fail("no 101 response: " + client->buffer_);
    }
    client->response_ = client->buffer_.substr(0, end + 4);
    client->buffer_.erase(0, end + 4);
    if (!client->response_.starts_with("HTTP/1.1 101"))
        return fail("not 101: " + client->response_);
    if (client->response_header("sec-websocket-accept") != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") {
        return fail("bad Sec-WebSocket-Accept: " + client->response_);
    }
    return client;
}

bool WsClient::write_bytes(const void* data, std::size_t n) {
    if (ssl_ == nullptr) return write_all(fd_, data, n);
    const auto* p = static_cast<const char*>(data);
    while (n > 0) {
        const int chunk = static_cast<int>(std::min<std::size_t>(n, 1 << 30));
        const int w = SSL_write(ssl_, p, chunk);
        if (w <= 0) return false;
        p += w;
        n -= static_cast<std::size_t>(w);
    }
    return true;
}

long WsClient::read_some(char* buf, std::size_t n) {
    if (ssl_ == nullptr) return ::recv(fd_, buf, n, 0);
    return SSL_read(ssl_, buf, static_cast<int>(n));
}

bool WsClient::readable(int timeout_ms) {
    if (ssl_ != nullptr && SSL_pending(ssl_) > 0) return true;
    pollfd p{fd_, POLLIN, 0};
    return poll(&p, 1, timeout_ms) > 0;
}

WsClient::~WsClient() { close_socket(); }

void WsClient::close_socket() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    ssl_ = nullptr;
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
}

std::string WsClient::response_header(std::string_view name) const {
    const std::string head = lower(response_);
    const std::string key = "\r\n" + lower(name) + ":";
    const auto at = head.find(key);
    if (at == std::string::npos) return "";
    auto begin = at + key.size();
    const auto stop = response_.find("\r\n", begin);
    while (begin < stop && response_[begin] == ' ') ++begin;
    return response_.substr(begin, stop - begin);
}

bool WsClient::send_frame(net::Opcode opcode, std::string_view payload, bool fin, bool masked,
                          std::uint8_t rsv) {
    static std::mt19937 rng(12345);
    std::uint8_t header[net::kMaxClientHeader];
    std::uint8_t mask[4];
    for (auto& m : mask) m = static_cast<std::uint8_t>(rng());
    std::size_t header_len =
        net::encode_client_header(header, opcode, payload.size(), mask, fin, rsv);
    std::string wire(payload);
    if (masked) {
        core::unmask(reinterpret_cast<std::uint8_t*>(wire.data()), wire.size(), mask);
    } else {
        header[1] = static_cast<std::uint8_t>(header[1] & 0x7F);  // clear MASK, drop the key
        header_len -= 4;
    }
    wire.insert(0, reinterpret_cast<const char*>(header), header_len);
    return write_bytes(wire.data(), wire.size());
}

bool WsClient::send_text(std::string_view text) { return send_frame(net::Opcode::kText, text); }

bool WsClient::send_close(std::uint16_t code, std::string_view reason) {
    std::string body;
    body.push_back(static_cast<char>(code >> 8));
    body.push_back(static_cast<char>(code & 0xFF));
    body.append(reason);
    return send_frame(net::Opcode::kClose, body);
}

bool WsClient::send_raw(std::string_view bytes) { return write_bytes(bytes.data(), bytes.size()); }

bool WsClient::fill(int timeout_ms) {
    if (!readable(timeout_ms)) return false;
    char buf[65536];
    const long n = read_some(buf, sizeof buf);
    if (n <= 0) return false;
    buffer_.append(buf, static_cast<std::size_t>(n));
    return true;
}

std::optional<Frame> WsClient::read_frame(int timeout_ms) {
    if (!held_.empty()) {
        Frame f = std::move(held_.front());
        held_.erase(held_.begin());
        return f;
    }
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    while (true) {
        net::FrameHeader h;
        const auto status = net::parse_header(reinterpret_cast<const std::uint8_t*>(buffer_.data()),
                                              buffer_.size(), h);
        if (status == net::HeaderStatus::kBadLength ||
            (status == net::HeaderStatus::kOk && h.masked)) {
            return std::nullopt;  // servers never mask
        }
        if (status == net::HeaderStatus::kOk && buffer_.size() >= h.header_size + h.payload_size) {
            Frame f;
            f.opcode = static_cast<net::Opcode>(h.opcode);
            f.fin = h.fin;
            f.payload = buffer_.substr(h.header_size, h.payload_size);
            buffer_.erase(0, h.header_size + h.payload_size);
            return f;
        }
        if (!fill(remaining_ms(deadline))) return std::nullopt;
    }
}

std::optional<std::string> WsClient::read_text(int timeout_ms) {
    auto f = read_frame(timeout_ms);
    if (!f || f->opcode != net::Opcode::kText) return std::nullopt;
    return std::move(f->payload);
}

std::uint16_t WsClient::read_until_close(int timeout_ms) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    while (auto f = read_frame(remaining_ms(deadline))) {
        if (f->opcode == net::Opcode::kClose) return f->close_code();
    }
    return net::close_code::kAbnormal;
}

bool WsClient::wait_eof(int timeout_ms) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    char buf[65536];
    while (true) {
        if (!readable(remaining_ms(deadline))) return false;
        if (read_some(buf, sizeof buf) <= 0) return true;
    }
}

bool WsClient::quiet_for(int timeout_ms) {
    if (!buffer_.empty() || !held_.empty()) return false;
    return !readable(timeout_ms);
}

bool WsClient::sync(int timeout_ms) {
    static int counter = 0;
    const std::string token = "sync-" + std::to_string(++counter);
    if (!send_frame(net::Opcode::kPing, token)) return false;
    std::vector<Frame> held = std::move(held_);
    held_.clear();
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    while (auto f = read_frame(remaining_ms(deadline))) {
        if (f->opcode == net::Opcode::kPong && f->payload == token) {
            held_ = std::move(held);
            return true;
        }
        held.push_back(std::move(*f));
    }
    held_ = std::move(held);
    return false;
}

bool WsClient::add_group(std::string_view group) {
    return send_text(R"({"cmd":"add_group","group_id":")" + std::string(group) + "\"}");
}

bool WsClient::send_to_group(std::string_view group, std::string_view message) {
    return send_text(R"({"cmd":"send_to_group","group_id":")" + std::string(group) +
                     R"(","message":")" + std::string(message) + "\"}");
}

}  // namespace herald::test
