// Test harness for channel::AdminServer: a handler that records publishes, a thread that drives
// the server as the hub's epoll loop will, and raw TCP clients (the test controls every byte).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "channel/admin_server.h"

namespace herald::test {

// Records what it was asked to publish; answers as configured. Thread-safe (the loop thread
// calls it, the test reads it).
class FakeHandler : public channel::AdminHandler {
  public:
    channel::PublishOutcome publish(std::string_view group, std::string_view message) override {
        std::lock_guard lock(mu_);
        if (outcome_ != channel::PublishOutcome::kAccepted) return outcome_;
        published_.emplace_back(group, message);
        return outcome_;
    }
    channel::BatchOutcome publish_batch(std::span<const channel::PublishItem> items) override {
        std::lock_guard lock(mu_);
        std::size_t n = std::min(items.size(), batch_room_);
        for (std::size_t i = 0; i < n; ++i)
            published_.emplace_back(items[i].group_id, items[i].message);
        return {n == items.size() ? channel::PublishOutcome::kAccepted
                                  : channel::PublishOutcome::kUnavailable,
                n};
    }
    std::string stats_json() override { return stats_; }
    std::string metrics_text() override { return "# TYPE herald_up gauge\nherald_up 1\n"; }
    channel::ReadyState ready() override {
        return {ready_, ready_ ? "{\"ready\":true}" : "{\"ready\":false}"};
    }

    std::vector<std::pair<std::string, std::string>> published() {
        std::lock_guard lock(mu_);
        return published_;
    }
    std::string stats_ = "{\"workers\":[]}\n";  // set before the server starts
    bool ready_ = true;                         // set before the server starts
    channel::PublishOutcome outcome_ = channel::PublishOutcome::kAccepted;
    std::size_t batch_room_ = SIZE_MAX;  // a batch stops after this many

  private:
    std::mutex mu_;
    std::vector<std::pair<std::string, std::string>> published_;
};

// Starts the server and drives it from a thread: epoll_wait on its epoll fd for at most
// timeout_ms(), then run(). Stops (and joins) in the destructor.
class ServerLoop {
  public:
    ServerLoop(const channel::AdminOptions& options, channel::AdminHandler& handler)
        : server_(options, handler) {
        const core::Status st = server_.start();
        if (!st) std::abort();
        wake_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        ep_ = epoll_create1(EPOLL_CLOEXEC);
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.fd = server_.epoll_fd();
        epoll_ctl(ep_, EPOLL_CTL_ADD, server_.epoll_fd(), &ev);
        ev.data.fd = wake_;
        epoll_ctl(ep_, EPOLL_CTL_ADD, wake_, &ev);
        thread_ = std::thread([this] { loop(); });
    }
    ~ServerLoop() { stop(); }
    void stop() {
        if (!thread_.joinable()) return;
        stop_.store(true);
        const std::uint64_t one = 1;
        (void)!write(wake_, &one, sizeof one);
        thread_.join();
        close(ep_);
        close(wake_);
    }
    std::uint16_t port() const { return server_.port(); }
    // Read only after stop().
    const channel::AdminCounters& counters() const { return server_.counters(); }

  private:
    void loop() {
        while (!stop_.load()) {
            epoll_event ev[4];
            epoll_wait(ep_, ev, 4, server_.timeout_ms());
            server_.run();
        }
    }
    channel::AdminServer server_;
    int ep_ = -1;
    int wake_ = -1;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

inline int connect_to(std::uint16_t port) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

inline void send_all(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
        const ssize_t n = send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n <= 0) return;
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
}

// Reads until `pred(buffer)` holds, the peer closes, or `ms` pass. Returns what was read.
template <class Pred>
std::string read_until(int fd, int ms, Pred pred, bool* closed = nullptr) {
    std::string in;
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    if (closed != nullptr) *closed = false;
    while (!pred(in)) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                              end - std::chrono::steady_clock::now())
                              .count();
        if (left <= 0) break;
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, static_cast<int>(left)) <= 0) continue;
        char buf[65536];
        const ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0) {
            if (closed != nullptr) *closed = true;
            break;
        }
        in.append(buf, static_cast<std::size_t>(n));
    }
    return in;
}

struct Answer {
    int status = 0;  // 0: closed or timed out before a full answer
    std::string head;
    std::string body;
    bool closed = false;  // the server closed after (or instead of) the answer
};

// The length of the first complete answer in `in` (Content-Length framed), or 0.
inline std::size_t answer_length(std::string_view in) {
    const std::size_t end = in.find("\r\n\r\n");
    if (end == std::string_view::npos) return 0;
    std::string head(in.substr(0, end));
    for (char& ch : head) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    std::size_t length = 0;
    if (const std::size_t at = head.find("content-length:"); at != std::string::npos) {
        length = std::strtoul(head.c_str() + at + 15, nullptr, 10);
    }
    return in.size() >= end + 4 + length ? end + 4 + length : 0;
}

inline Answer parse_answer(std::string_view in, bool closed) {
    Answer a;
    a.closed = closed;
    const std::size_t n = answer_length(in);
    if (n == 0 || in.substr(0, 9).find("HTTP/1.") != 0) return a;
    const std::size_t end = in.find("\r\n\r\n");
    a.status = std::atoi(std::string(in.substr(9, 3)).c_str());
    a.head = std::string(in.substr(0, end + 4));
    a.body = std::string(in.substr(end + 4, n - end - 4));
    return a;
}

// Sends `request` on a fresh connection and reads one answer (waiting up to `ms`).
inline Answer exchange(std::uint16_t port, std::string_view request, int ms = 3000) {
    const int fd = connect_to(port);
    send_all(fd, request);
    bool closed = false;
    const std::string in = read_until(
        fd, ms, [](std::string_view s) { return answer_length(s) != 0; }, &closed);
    Answer a = parse_answer(in, closed);
    close(fd);
    return a;
}

// "POST /publish HTTP/1.1" with Host and Content-Length, plus `extra` header lines.
inline std::string post(std::string_view body, std::string_view extra = "",
                        std::string_view target = "/publish") {
    std::string r = "POST ";
    r.append(target).append(" HTTP/1.1\r\nHost: 127.0.0.1\r\n").append(extra);
    r.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n\r\n");
    return r.append(body);
}

}  // namespace herald::test
