#include "net/upgrade_gate.h"

#include <sys/socket.h>

#include <new>

#include "core/assert.h"

namespace herald::net {
namespace {

// calloc'd zeroed storage for `n` objects of an implicit-lifetime type T (C++20 [intro.object]:
// pointers and PeerIp need no constructor call). Large tables come from fresh mmap pages, so
// only the slots ever used are touched.
template <class T>
T* zeroed(std::size_t n) {
    void* p = std::calloc(n, sizeof(T));
    if (p == nullptr) throw std::bad_alloc();
    return static_cast<T*>(p);
}

bool narrows(const ConnectPermissions& p) noexcept {
    return !p.join.allows_all() || !p.publish.allows_all();
}

}  // namespace

UpgradeGate::UpgradeGate(OriginAllowList origins,
                         std::shared_ptr<const ConnectTokenVerifier> verifier,
                         std::uint32_t max_per_ip, std::size_t slots)
    : origins_(std::move(origins)),
      verifier_(std::move(verifier)),
      per_ip_(max_per_ip, max_per_ip == 0 ? 0 : slots),
      slots_(slots) {
    if (verifier_) permissions_.reset(zeroed<ConnectPermissions*>(slots));
    if (max_per_ip != 0) peers_.reset(zeroed<PeerIp>(slots));
}

UpgradeGate::~UpgradeGate() {
    if (!permissions_) return;
    for (std::size_t i = 0; i < slots_; ++i) delete permissions_.get()[i];
}

GateAnswer UpgradeGate::admit(std::uint32_t slot, int fd, const RequestHead& req,
                              std::int64_t now_unix_s) {
    HERALD_DCHECK(slot < slots_);
    if (!origins_.allows(req.origin, req.has_origin)) {
        return {GateVerdict::kOriginRefused, 403, "origin not allowed"};
    }
    if (verifier_) {
        const GateAnswer token = check_token(slot, req, now_unix_s);
        if (token.verdict != GateVerdict::kAdmitted) return token;
    }
    if (peers_) {
        const GateAnswer peer = count_peer(slot, fd);
        if (peer.verdict != GateVerdict::kAdmitted) {
            release(slot);  // drop the permissions check_token kept
            return peer;
        }
    }
    return {};
}

GateAnswer UpgradeGate::check_token(std::uint32_t slot, const RequestHead& req,
                                    std::int64_t now_unix_s) {
    const std::string_view token = !req.authorization.empty()
                                       ? token_from_authorization(req.authorization)
                                       : token_from_target(req.target);
    TokenCheck check;
    if (!token.empty()) check = verifier_->verify(token, now_unix_s);
    if (check.verdict != TokenVerdict::kOk) {
        return {GateVerdict::kTokenRefused, 401, verdict_reason(check.verdict)};
    }
    if (narrows(check.permissions)) {
        ConnectPermissions*& held = permissions_.get()[slot];
        delete held;
        held = new ConnectPermissions(std::move(check.permissions));
    }
    return {};
}

GateAnswer UpgradeGate::count_peer(std::uint32_t slot, int fd) {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        return {GateVerdict::kOverIpLimit, 503, "peer address unknown"};
    }
    const PeerIp ip = PeerIp::from_sockaddr(reinterpret_cast<const sockaddr*>(&addr));
    switch (per_ip_.add(ip)) {
        case PerIpAdmit::kAdmitted:
            peers_.get()[slot] = ip;
            return {};
        case PerIpAdmit::kOverLimit:
            return {GateVerdict::kOverIpLimit, 503, "too many connections from this address"};
        case PerIpAdmit::kTableFull:
            break;
    }
    return {GateVerdict::kOverIpLimit, 503, "too many client addresses"};
}

void UpgradeGate::release(std::uint32_t slot) noexcept {
    if (permissions_) {
        ConnectPermissions*& held = permissions_.get()[slot];
        delete held;
        held = nullptr;
    }
    if (peers_) {
        PeerIp& ip = peers_.get()[slot];
        if (ip == PeerIp{}) return;
        per_ip_.remove(ip);
        ip = PeerIp{};
    }
}

}  // namespace herald::net
