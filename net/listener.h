// The worker's listening socket and its one multishot accept, paused for a tick when the
// process runs out of descriptors or memory instead of spinning on the error.
#pragma once

#include "core/log_limiter.h"
#include "core/result.h"
#include "net/endpoint.h"
#include "net/uring.h"

namespace herald::net {

class Listener {
  public:
    explicit Listener(Uring& uring) : uring_(uring) {}
    ~Listener();
    Listener(const Listener&) = delete;
    Listener& operator=(const Listener&) = delete;

    // Listens on `at` (net/endpoint.h: listen_on; SO_REUSEPORT when reuse_port). Returns the
    // bound endpoint (port 0 resolved) or an error line naming the cause and the fix.
    core::Result<Endpoint> open(const Endpoint& at, bool reuse_port);

    // Arms the multishot accept (Op::kAccept).
    void arm();
    // An accept completion: res is the new socket or -errno; more: the multishot goes on.
    // Returns the socket, or -1. Out of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM)
    // it pauses until resume(); it logs other errors; it re-arms an ended multishot unless
    // paused or `stopping`.
    int on_accept(int res, bool more, bool stopping);
    // Re-arms an accept paused by on_accept() (once a tick).
    void resume();
    // Cancels the multishot accept (shutting down).
    void cancel();

  private:
    Uring& uring_;
    int fd_ = -1;
    bool paused_ = false;                        // out of descriptors: retry on the next tick
    core::LogLimiter pause_log_{core::kSecond};  // "accept_paused": one line a second
    core::LogLimiter error_log_{core::kSecond};  // "accept_failed": one line a second
};

}  // namespace herald::net
