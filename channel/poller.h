// The hub's socket plumbing: an epoll set of non-blocking sockets (Handle), each with a buffer
// of bytes to write, written once per loop pass. Knows nothing of what the sockets carry: every
// event goes to the HandleOwner that registered the socket (the peer mesh, the publish API,
// the hub itself).
//
// Techniques: a handle with bytes to write is listed once (mark_dirty) and written by
// flush_dirty(); EPOLLOUT is armed only while the kernel refuses bytes; a closed handle is freed
// only after the batch of events that may still name it (retire, end_batch).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "net/endpoint.h"

namespace herald::channel::hub {

struct Handle;

// What a Handle's events go to.
class HandleOwner {
  public:
    // epoll reported `events` (EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP bits) on `h`.
    virtual void on_ready(Handle& h, std::uint32_t events) = 0;
    // `h` was marked dirty: write its `out` (normally through Poller::write_out()).
    virtual void on_flush(Handle& h) = 0;

  protected:
    ~HandleOwner() = default;
};

// One non-blocking socket (or eventfd, signalfd) in the epoll set.
struct Handle {
    explicit Handle(HandleOwner* o) : owner(o) {}
    virtual ~Handle() = default;
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;

    // Bytes in `out` not yet written.
    std::size_t unwritten() const noexcept { return out.size() - out_off; }

    HandleOwner* owner;       // where its events go
    int fd = -1;              // owned: closed by Poller::close()
    bool dead = false;        // closed: freed after the current batch of events
    bool want_write = false;  // EPOLLOUT armed
    bool dirty = false;       // listed for flush_dirty()
    std::string out;          // bytes to write, from out_off
    std::size_t out_off = 0;  // bytes of `out` already written
};

// What one write_out() did.
enum class WriteStatus : std::uint8_t {
    kDone,     // everything in `out` is written (and `out` was emptied)
    kPending,  // the kernel took what it could; EPOLLOUT is armed for the rest
    kFailed,   // send failed (the error is in `error`); the caller closes the handle
};

struct WriteResult {
    WriteStatus status = WriteStatus::kDone;
    std::size_t written = 0;  // bytes sent by this call
    int error = 0;            // errno, with kFailed
};

// What one recv_some() read.
enum class ReadStatus : std::uint8_t {
    kData,    // `bytes` bytes arrived
    kAgain,   // nothing more for now (EAGAIN)
    kClosed,  // the peer closed its side (recv returned 0)
    kFailed,  // recv failed: errno is in `error`
};

struct ReadResult {
    ReadStatus status = ReadStatus::kAgain;
    std::size_t bytes = 0;
    int error = 0;
};

// recv(2) on a non-blocking socket into buf[0, size), EINTR retried.
ReadResult recv_some(int fd, char* buf, std::size_t size) noexcept;

class Poller {
  public:
    Poller() = default;
    ~Poller();  // closes the epoll fd (handles close their own fds through close())
    Poller(const Poller&) = delete;
    Poller& operator=(const Poller&) = delete;

    // Creates the epoll set; an error names epoll_create1(2)'s reason.
    core::Status open();

    // Watches `h` for `events` (EPOLLIN, EPOLLOUT): epoll_ctl(2) ADD and MOD.
    void add(Handle& h, std::uint32_t events);
    void modify(Handle& h, std::uint32_t events);

    // A non-blocking listener on `at` (its port filled in when 0), watched for EPOLLIN;
    // an error reads "hub: <flag>: <why>".
    core::Status listen(Handle& listener, net::Endpoint& at, const char* flag);

    // Writes h.out from h.out_off until done or the kernel refuses more (send(2),
    // MSG_NOSIGNAL). The caller may look at h.out / h.out_off, then calls settle().
    WriteResult send_out(Handle& h) noexcept;
    // After send_out(): empties `out` when all of it is written, and arms EPOLLOUT (with
    // EPOLLIN) exactly while bytes are left.
    void settle(Handle& h);
    // send_out() then settle(), unless sending failed.
    WriteResult write_out(Handle& h);

    // Lists `h` for the next flush_dirty() when it has bytes to write.
    void mark_dirty(Handle& h);
    // Calls on_flush() of every listed handle that is still open. An owner's on_flush may
    // close handles, never list new ones.
    void flush_dirty();

    // Waits up to `timeout_ms` (-1: forever, 0: not at all) and hands each event of a handle
    // that is still open to its owner. Returns the number of events.
    int wait(int timeout_ms);

    // Closes `h`: out of the epoll set, its fd closed, dead. Idempotent.
    void close(Handle& h);
    // Takes `h` out of `list` (it must be there) and keeps it until end_batch(): events of the
    // current batch, and the dirty list, may still name it.
    template <class T>
    void retire(std::vector<std::unique_ptr<T>>& list, Handle& h);
    // Flushes, then frees what was retired (call after each batch of events).
    void end_batch();

    int fd() const noexcept { return epoll_fd_; }

  private:
    int epoll_fd_ = -1;
    std::vector<Handle*> dirty_;                      // handles with bytes to write
    std::vector<std::unique_ptr<Handle>> graveyard_;  // closed, freed by end_batch()
};

template <class T>
void Poller::retire(std::vector<std::unique_ptr<T>>& list, Handle& h) {
    for (auto& p : list) {
        if (p.get() != &h) continue;
        graveyard_.push_back(std::move(p));
        p = std::move(list.back());
        list.pop_back();
        return;
    }
}

}  // namespace herald::channel::hub
