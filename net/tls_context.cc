#include "net/tls_context.h"

#include <openssl/err.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace herald::net {
namespace {

// Mozilla "intermediate" TLS 1.2 suites without DHE: ECDHE + AEAD only.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
constexpr const char* kGroups = "X25519:P-256:P-384";
// ALPN protocol list in wire form (RFC 7301 §3.1): length-prefixed names.
constexpr unsigned char kAlpnHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

core::Error file_error(std::string_view flag, const std::string& path, std::string_view problem) {
    std::string line(flag);
    line.append(" ").append(path).append(": ").append(problem);
    return core::Error{std::move(line)};
}

// The reason of OpenSSL's most recent error ("no certificate or crl found", ...); clears the
// error queue so one failure never leaks into the next call.
std::string take_openssl_reason(std::string_view fallback) {
    const unsigned long code = ERR_peek_last_error();
    const char* reason = code != 0 ? ERR_reason_error_string(code) : nullptr;
    std::string out = reason != nullptr ? reason : std::string(fallback);
    ERR_clear_error();
    return out;
}

// "" when `path` names a readable regular file, else the problem ("no such file", ...).
std::string readable_file_problem(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        return errno == ENOENT ? "no such file" : std::strerror(errno);
    }
    if (!S_ISREG(st.st_mode)) return "not a regular file";
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) return errno == EACCES ? "permission denied" : std::strerror(errno);
    std::fclose(f);
    return {};
}

// Never prompts on a terminal for a key's passphrase: an encrypted key fails to load.
int refuse_passphrase(char*, int, int, void*) { return 0; }

int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void*) {
    unsigned char* selected = nullptr;
    const int r =
        SSL_select_next_proto(&selected, outlen, kAlpnHttp11, sizeof(kAlpnHttp11), in, inlen);
    if (r != OPENSSL_NPN_NEGOTIATED) return SSL_TLSEXT_ERR_ALERT_FATAL;  // RFC 7301 §3.2
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
}

core::Status apply_protocol_settings(SSL_CTX* ctx) {
    const bool ok = SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) == 1 &&
                    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) == 1 &&
                    SSL_CTX_set_cipher_list(ctx, kTls12Ciphers) == 1 &&
                    SSL_CTX_set1_groups_list(ctx, kGroups) == 1 &&
                    SSL_CTX_set_num_tickets(ctx, 0) == 1;
    if (!ok) return core::Error{"TLS settings refused: " + take_openssl_reason("unknown")};
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_alpn_select_cb(ctx, select_alpn, nullptr);
    SSL_CTX_set_default_passwd_cb(ctx, refuse_passphrase);
    return {};
}

core::Status load_certificate_and_key(SSL_CTX* ctx, const TlsFiles& files) {
    if (const std::string p = readable_file_problem(files.cert); !p.empty()) {
        return file_error("--tls-cert", files.cert, p);
    }
    if (const std::string p = readable_file_problem(files.key); !p.empty()) {
        return file_error("--tls-key", files.key, p);
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, files.cert.c_str()) != 1) {
        const std::string reason = take_openssl_reason("unreadable");
        return file_error("--tls-cert", files.cert, "no usable PEM certificate (" + reason + ")");
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, files.key.c_str(), SSL_FILETYPE_PEM) != 1) {
        const unsigned long code = ERR_peek_last_error();
        const bool mismatch = ERR_GET_REASON(code) == X509_R_KEY_VALUES_MISMATCH;
        const std::string reason = take_openssl_reason("unreadable");
        if (mismatch) {
            return file_error("--tls-key", files.key,
                              "does not match the certificate in " + files.cert);
        }
        return file_error("--tls-key", files.key,
                          "no usable unencrypted PEM private key (" + reason + ")");
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        ERR_clear_error();
        return file_error("--tls-key", files.key,
                          "does not match the certificate in " + files.cert);
    }
    return {};
}

core::Status load_client_ca(SSL_CTX* ctx, const std::string& ca) {
    if (const std::string p = readable_file_problem(ca); !p.empty()) {
        return file_error("--tls-ca", ca, p);
    }
    if (SSL_CTX_load_verify_locations(ctx, ca.c_str(), nullptr) != 1) {
        return file_error("--tls-ca", ca,
                          "no usable PEM CA certificate (" + take_openssl_reason("?") + ")");
    }
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(ca.c_str());
    if (names == nullptr) {
        return file_error("--tls-ca", ca, "no CA names (" + take_openssl_reason("?") + ")");
    }
    SSL_CTX_set_client_CA_list(ctx, names);  // takes ownership
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    return {};
}

}  // namespace

core::Result<SslCtxPtr> make_server_ssl_ctx(const TlsFiles& files) {
    ERR_clear_error();
    SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
    if (!ctx) return core::Error{"TLS: cannot create a context: " + take_openssl_reason("?")};
    if (core::Status s = apply_protocol_settings(ctx.get()); !s) return core::Error{s.error()};
    if (core::Status s = load_certificate_and_key(ctx.get(), files); !s) {
        return core::Error{s.error()};
    }
    if (!files.ca.empty()) {
        if (core::Status s = load_client_ca(ctx.get(), files.ca); !s) {
            return core::Error{s.error()};
        }
    }
    return ctx;
}

core::Result<TlsContext> TlsContext::load(TlsFiles files) {
    core::Result<SslCtxPtr> ctx = make_server_ssl_ctx(files);
    if (!ctx) return core::Error{ctx.error()};
    return TlsContext(std::move(files), std::move(ctx).value());
}

core::Status TlsContext::reload() {
    core::Result<SslCtxPtr> ctx = make_server_ssl_ctx(files_);
    if (!ctx) return core::Error{ctx.error()};
    ctx_ = std::move(ctx).value();  // SSLs made from the old context keep their own reference
    ++generation_;
    return {};
}

KtlsProbe probe_ktls(std::string_view path) {
    KtlsProbe probe;
    std::ifstream in{std::string(path)};
    std::string list;
    if (!in || !std::getline(in, list)) {
        probe.description = "kTLS: not available (" + std::string(path) +
                            " unreadable); TLS records are made in user space by OpenSSL";
        return probe;
    }
    std::istringstream words(list);
    for (std::string w; words >> w;) probe.available = probe.available || w == "tls";
    probe.description = probe.available
                            ? "kTLS: the kernel offers the tls ULP, herald does not use it yet; "
                              "TLS records are made in user space by OpenSSL"
                            : "kTLS: not available (tcp_available_ulp: \"" + list +
                                  "\"); TLS records are made in user space by OpenSSL";
    return probe;
}

}  // namespace herald::net
