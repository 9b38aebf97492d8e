#include "channel/poller.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace herald::channel::hub {

ReadResult recv_some(int fd, char* buf, std::size_t size) noexcept {
    while (true) {
        const ssize_t n = recv(fd, buf, size, 0);
        if (n > 0) return {ReadStatus::kData, static_cast<std::size_t>(n), 0};
        if (n == 0) return {ReadStatus::kClosed, 0, 0};
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return {ReadStatus::kAgain, 0, 0};
        return {ReadStatus::kFailed, 0, errno};
    }
}

Poller::~Poller() {
    if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

core::Status Poller::open() {
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0) return core::Error{std::string("epoll_create1: ") + std::strerror(errno)};
    return {};
}

void Poller::add(Handle& h, std::uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.ptr = &h;
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, h.fd, &ev);
}

void Poller::modify(Handle& h, std::uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.ptr = &h;
    epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, h.fd, &ev);
}

core::Status Poller::listen(Handle& listener, net::Endpoint& at, const char* flag) {
    auto fd = net::listen_on(at, net::ListenOptions{.reuse_port = false, .backlog = 128});
    if (!fd) return core::Error{std::string("hub: ") + flag + ": " + fd.error()};
    listener.fd = *fd;
    fcntl(*fd, F_SETFL, fcntl(*fd, F_GETFL) | O_NONBLOCK);
    add(listener, EPOLLIN);
    return {};
}

WriteResult Poller::send_out(Handle& h) noexcept {
    WriteResult r;
    while (h.out_off < h.out.size()) {
        const ssize_t n =
            send(h.fd, h.out.data() + h.out_off, h.out.size() - h.out_off, MSG_NOSIGNAL);
        if (n > 0) {
            h.out_off += static_cast<std::size_t>(n);
            r.written += static_cast<std::size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        r.status = WriteStatus::kFailed;
        r.error = errno;
        return r;
    }
    r.status = h.out_off < h.out.size() ? WriteStatus::kPending : WriteStatus::kDone;
    return r;
}

void Poller::settle(Handle& h) {
    const bool pending = h.out_off < h.out.size();
    if (!pending) {
        h.out.clear();
        h.out_off = 0;
    }
    if (pending != h.want_write) {
        h.want_write = pending;
        modify(h, EPOLLIN | (pending ? EPOLLOUT : 0u));
    }
}

WriteResult Poller::write_out(Handle& h) {
    const WriteResult r = send_out(h);
    if (r.status != WriteStatus::kFailed) settle(h);
    return r;
}

void Poller::mark_dirty(Handle& h) {
    if (h.dirty || h.out_off == h.out.size()) return;
    h.dirty = true;
    dirty_.push_back(&h);
}

void Poller::flush_dirty() {
    // on_flush() may close a handle, never list one: the list does not grow meanwhile.
    for (Handle* h : dirty_) {
        h->dirty = false;
        if (!h->dead) h->owner->on_flush(*h);
    }
    dirty_.clear();
}

int Poller::wait(int timeout_ms) {
    epoll_event events[64];
    const int n = epoll_wait(epoll_fd_, events, 64, timeout_ms);
    for (int i = 0; i < n; ++i) {
        auto* h = static_cast<Handle*>(events[i].data.ptr);
        if (!h->dead) h->owner->on_ready(*h, events[i].events);
    }
    return n;
}

void Poller::close(Handle& h) {
    if (h.dead) return;
    h.dead = true;
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, h.fd, nullptr);
    ::close(h.fd);
    h.fd = -1;
}

void Poller::end_batch() {
    flush_dirty();  // before the graveyard goes: the dirty list may name a closed handle
    graveyard_.clear();
}

}  // namespace herald::channel::hub
