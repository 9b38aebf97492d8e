// Heartbeats: how the worker loop finds and ends connections whose peer went silent.
//
// An open connection sits in one of two FIFO deadline lists (core/timer_list.h, O(1), nothing
// scanned per tick): kPingTimer (deadline: ping_interval after it was put there) or kIdleTimer
// (idle_timeout - ping_interval after its ping). Input does not re-link anything: it only sets
// Connection::heard (one byte store per receive completion). At a deadline the loop looks:
//   heard         -> clear it, back to kPingTimer          (one re-link per interval, busy or not)
//   silent, kPing -> send a ping, move to kIdleTimer
//   silent, kIdle -> count closes_idle, close 1001 "idle timeout" (not waiting for the peer's
//                    close frame: FIN after it, the socket dropped after --close-timeout)
// So a ping leaves after between ping_interval and 2 x ping_interval of silence, and a silent
// connection is closed after between idle_timeout and idle_timeout + ping_interval (plus a tick).
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>

#include "net/server.h"

namespace herald::net {

void Server::on_heartbeat(ConnRef c) {
    Connection& conn = c.conn;
    if (conn.heard) {
        conn.heard = false;
        conn.pinged = false;
        return set_deadline(c, kPingTimer);
    }
    if (!conn.pinged) {
        conn.pinged = true;
        stats_->pings.add();
        if (!send_or_close(c, ping_frame_)) return;  // closed: its queue is over the limit
        return set_deadline(c, kIdleTimer);
    }
    stats_->closes_idle.add();
    begin_close(c, close_code::kGoingAway, "idle timeout", CloseMode::kFail);
}

void Server::bound_dead_peers(int fd, const ServerOptions& options) noexcept {
    const int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
    const int idle_s = static_cast<int>(
        std::max<core::Nanos>(1, (options.ping_interval + core::kSecond - 1) / core::kSecond));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle_s, sizeof idle_s);
    const auto user_timeout_ms = static_cast<unsigned>(
        std::min<core::Nanos>(options.idle_timeout / core::kMillisecond, INT32_MAX));
    setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms, sizeof user_timeout_ms);
}

}  // namespace herald::net
