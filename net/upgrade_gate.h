// UpgradeGate: what a WebSocket upgrade must pass before its 101, and what the admitted
// connection keeps of it. Checks run in this order, the first refusal answers:
//   Origin      --allowed-origins (net/origin_allow_list.h)       403 Forbidden
//   token       --jwt-key, --jwt-audience (net/connect_token.h)   401 Unauthorized
//   per-IP      --max-conns-per-ip (net/per_ip_limit.h)           503 Service Unavailable
// The token comes from `Authorization: Bearer` when that header is present, else from the
// request target's `?token=`.
//
// Per connection slot it keeps, out of line so that a connection without a token or a limit
// costs nothing in net::Connection:
//   - the permissions of a token whose groups/publish claims narrow anything (one heap object,
//     only for such connections; a pointer per slot, in a table allocated lazily by calloc);
//   - the peer address counted by the per-IP limit (16 bytes per slot, same kind of table,
//     only with --max-conns-per-ip).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string_view>

#include "net/connect_token.h"
#include "net/http_handshake.h"
#include "net/origin_allow_list.h"
#include "net/per_ip_limit.h"

namespace herald::net {

enum class GateVerdict : std::uint8_t {
    kAdmitted,       // answer 101
    kOriginRefused,  // 403: Origin is not in --allowed-origins
    kTokenRefused,   // 401: missing, expired or bad token
    kOverIpLimit,    // 503: the peer address holds --max-conns-per-ip connections already
};

struct GateAnswer {
    GateVerdict verdict = GateVerdict::kAdmitted;
    int status = 101;              // the HTTP status to answer with
    std::string_view reason = "";  // one line for the refusal's body (static storage)
};

class UpgradeGate {
  public:
    // origins: who may connect (default: anyone). verifier: null leaves tokens unchecked.
    // max_per_ip: 0 is unlimited. slots: the connection slab's capacity (slots are < slots).
    UpgradeGate(OriginAllowList origins, std::shared_ptr<const ConnectTokenVerifier> verifier,
                std::uint32_t max_per_ip, std::size_t slots);
    UpgradeGate(const UpgradeGate&) = delete;
    UpgradeGate& operator=(const UpgradeGate&) = delete;
    ~UpgradeGate();

    // Judges the upgrade `req` (verdict kUpgrade) of the connection in `slot`, whose socket is
    // `fd` (getpeername once, only with a per-IP limit), at `now_unix_s`. When admitted, the
    // slot holds what the token grants and its per-IP count until release(slot).
    // Allocates only to verify a token, or to keep narrowed permissions.
    GateAnswer admit(std::uint32_t slot, int fd, const RequestHead& req, std::int64_t now_unix_s);

    // The connection in `slot` ended: forget its permissions and per-IP count (a no-op for a
    // slot never admitted).
    void release(std::uint32_t slot) noexcept;

    // What the connection in `slot` may do: null means everything (no token, or a token without
    // narrowing claims). Allocates nothing.
    const ConnectPermissions* permissions(std::uint32_t slot) const noexcept {
        return permissions_ ? permissions_.get()[slot] : nullptr;
    }

    bool checks_tokens() const noexcept { return verifier_ != nullptr; }

  private:
    struct Free {
        void operator()(void* p) const noexcept { std::free(p); }
    };
    GateAnswer check_token(std::uint32_t slot, const RequestHead& req, std::int64_t now_unix_s);
    GateAnswer count_peer(std::uint32_t slot, int fd);

    OriginAllowList origins_;
    std::shared_ptr<const ConnectTokenVerifier> verifier_;
    PerIpLimit per_ip_;
    std::size_t slots_;
    // Per slot, calloc'd (untouched pages cost nothing): narrowed permissions or null...
    std::unique_ptr<ConnectPermissions*, Free> permissions_;
    // ...and the counted peer address (all zero: not counted; a TCP peer is never ::).
    std::unique_ptr<PeerIp, Free> peers_;
};

}  // namespace herald::net
