#include "net/listener.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "net/log.h"
#include "net/user_data.h"

namespace herald::net {

Listener::~Listener() {
    if (fd_ >= 0) close(fd_);
}

core::Result<Endpoint> Listener::open(const Endpoint& at, bool reuse_port) {
    Endpoint bound = at;
    auto fd = listen_on(bound, ListenOptions{.reuse_port = reuse_port});
    if (!fd) return core::Error{fd.error()};
    fd_ = *fd;
    return bound;
}

void Listener::arm() {
    io_uring_sqe* sqe = uring_.sqe();
    io_uring_prep_multishot_accept(sqe, fd_, nullptr, nullptr, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, encode_user_data(Op::kAccept, 0, 0));
}

int Listener::on_accept(int res, bool more, bool stopping) {
    if (res == -EMFILE || res == -ENFILE || res == -ENOBUFS || res == -ENOMEM) {
        if (!paused_ && pause_log_.allow(core::now_ns())) {
            log_event(LogLevel::kWarn, "accept_paused",
                      "reason=\"%s\" suppressed=%llu note=\"pausing accepts for a moment; raise "
                      "`ulimit -n` or lower the load\"",
                      std::strerror(-res),
                      static_cast<unsigned long long>(pause_log_.suppressed()));
        }
        paused_ = true;
    } else if (res < 0 && res != -ECANCELED && res != -EINVAL && res != -EBADF) {
        if (error_log_.allow(core::now_ns())) {
            log_event(LogLevel::kError, "accept_failed", "reason=\"%s\" suppressed=%llu",
                      std::strerror(-res),
                      static_cast<unsigned long long>(error_log_.suppressed()));
        }
    }
    if (!more && !paused_ && !stopping) arm();
    return res >= 0 ? res : -1;
}

void Listener::resume() {
    if (!paused_) return;
    paused_ = false;
    arm();
}

void Listener::cancel() {
    io_uring_sqe* sqe = uring_.sqe();
    io_uring_prep_cancel64(sqe, encode_user_data(Op::kAccept, 0, 0), 0);
    io_uring_sqe_set_data64(sqe, encode_user_data(Op::kNone, 0, 0));
}

}  // namespace herald::net
