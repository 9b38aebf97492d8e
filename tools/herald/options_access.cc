// herald's flag sections for heartbeats and access (tokens, Origin, per-IP) and for TLS, with
// their config-file keys.
#include <memory>

#include "net/connect_token.h"
#include "net/origin_allow_list.h"
#include "tools/herald/option_flags.h"

namespace herald::tools::detail {

void add_access_flags(Flags& flags, HeraldOptions& o, Pending& p, Keys& k) {
    net::ServerOptions& s = o.server;
    flags.section("Heartbeats and access (docs/OPERATIONS.md)");
    flags.add("ping-interval", "DURATION",
              "ping a connection that has sent nothing this long (default 25s)",
              duration_flag(s.ping_interval));
    key(k, "limits", "ping-interval", "ping-interval", ConfigType::kDuration, Reload::kRestart,
        [](const HeraldOptions& x) { return dur(x.server.ping_interval); });
    flags.add("idle-timeout", "DURATION",
              "close (1001) a connection that has sent nothing, not even a pong,\n"
              "this long (default 60s; more than --ping-interval)",
              duration_flag(s.idle_timeout));
    key(k, "limits", "idle-timeout", "idle-timeout", ConfigType::kDuration, Reload::kRestart,
        [](const HeraldOptions& x) { return dur(x.server.idle_timeout); });
    flags.add("jwt-key", "FILE",
              "require a connect token (JWT) on the upgrade: an HS256 secret, or an\n"
              "RS256/ES256 public key in PEM (default: no token needed)",
              text_flag(p.jwt_key));
    key(k, "access", "jwt-key", "jwt-key", ConfigType::kString, Reload::kRestart,
        [](const HeraldOptions& x) { return x.jwt_key; });
    flags.add("jwt-audience", "AUD", "with --jwt-key: the token's aud must hold AUD",
              text_flag(p.jwt_audience));
    key(k, "access", "jwt-audience", "jwt-audience", ConfigType::kString, Reload::kRestart,
        [](const HeraldOptions& x) { return x.jwt_audience; });
    flags.add("allowed-origins", "ORIGIN,...",
              "browser origins that may connect (exact match, * for any;\n"
              "default: any); others get 403",
              text_flag(p.allowed_origins));
    key(k, "access", "allowed-origins", "allowed-origins", ConfigType::kString, Reload::kRestart,
        [](const HeraldOptions& x) { return x.allowed_origins; });
    flags.add("max-conns-per-ip", "N",
              "connections one client address may hold per worker\n"
              "(default unlimited); the next one gets 503",
              uint_flag(s.max_conns_per_ip, 1, 1u << 20));
    key(k, "limits", "max-conns-per-ip", "max-conns-per-ip", ConfigType::kInteger, Reload::kRestart,
        [](const HeraldOptions& x) -> std::string {
            return x.server.max_conns_per_ip == 0 ? "" : num(x.server.max_conns_per_ip);
        });
}

// --jwt-key, --jwt-audience and --allowed-origins into o.server.
core::Status resolve_access(const Pending& p, HeraldOptions& o) {
    net::ServerOptions& s = o.server;
    o.jwt_key = p.jwt_key;
    o.jwt_audience = p.jwt_audience;
    o.allowed_origins = p.allowed_origins;
    if (s.idle_timeout <= s.ping_interval) {
        return core::Error{std::string("--idle-timeout must be longer than --ping-interval") +
                           kSeeHelp};
    }
    if (!p.jwt_audience.empty() && p.jwt_key.empty()) {
        return core::Error{std::string("--jwt-audience needs --jwt-key") + kSeeHelp};
    }
    if (!p.jwt_key.empty()) {
        auto verifier = net::ConnectTokenVerifier::load(p.jwt_key, p.jwt_audience);
        if (!verifier) return core::Error{verifier.error()};
        s.jwt = std::make_shared<const net::ConnectTokenVerifier>(std::move(*verifier));
    }
    if (!p.allowed_origins.empty()) {
        auto origins = net::OriginAllowList::parse(p.allowed_origins);
        if (!origins) return core::Error{origins.error()};
        s.allowed_origins = std::move(*origins);
    }
    return {};
}

void add_tls_flags(Flags& flags, HeraldOptions& o, Keys& k) {
    net::TlsFiles& tls = o.server.tls;
    flags.section("TLS (docs/OPERATIONS.md; SIGHUP reloads the files)");
    flags.add("tls-cert", "FILE",
              "PEM certificate (then its chain): the listener speaks wss://;\n"
              "needs --tls-key",
              text_flag(tls.cert));
    key(k, "tls", "cert", "tls-cert", ConfigType::kString, Reload::kRestart,
        [](const HeraldOptions& x) { return x.server.tls.cert; });
    flags.add("tls-key", "FILE", "PEM private key of --tls-cert", text_flag(tls.key));
    key(k, "tls", "key", "tls-key", ConfigType::kString, Reload::kRestart,
        [](const HeraldOptions& x) { return x.server.tls.key; });
    flags.add("tls-ca", "FILE", "PEM CA bundle: require client certificates it signed",
              text_flag(tls.ca));
    key(k, "tls", "ca", "tls-ca", ConfigType::kString, Reload::kRestart,
        [](const HeraldOptions& x) { return x.server.tls.ca; });
}

}  // namespace herald::tools::detail
