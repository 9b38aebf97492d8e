// A throw-away PKI for TLS tests, made with the OpenSSL API in a temporary directory: a CA, a
// server certificate for "localhost" and a client certificate (both signed by the CA), and a
// second key that matches neither. Everything is P-256 (fast to make). Header-only.
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

namespace herald::test {

struct PkeyFree {
    void operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }
};
struct X509Free {
    void operator()(X509* x) const noexcept { X509_free(x); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;

inline PkeyPtr make_ec_key() { return PkeyPtr(EVP_EC_gen("P-256")); }

inline void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    if (ext == nullptr) throw std::runtime_error("X509V3_EXT_conf_nid");
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
}

// A certificate for `cn` with `key`, signed by `issuer_key` (self-signed when issuer is null).
inline X509Ptr make_cert(const char* cn, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key,
                         bool is_ca, long serial) {
    X509Ptr cert(X509_new());
    X509_set_version(cert.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400);
    X509_set_pubkey(cert.get(), key);
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn),
                               -1, -1, 0);
    X509* signer = issuer != nullptr ? issuer : cert.get();
    X509_set_issuer_name(cert.get(), X509_get_subject_name(signer));
    if (is_ca) {
        add_ext(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE");
        add_ext(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        add_ext(cert.get(), signer, NID_basic_constraints, "CA:FALSE");
        add_ext(cert.get(), signer, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
    }
    add_ext(cert.get(), signer, NID_subject_key_identifier, "hash");
    if (X509_sign(cert.get(), issuer_key, EVP_sha256()) == 0) throw std::runtime_error("sign");
    return cert;
}

inline void write_pem(const std::string& path, X509* cert) {
    std::FILE* f = std::fopen(path.c_str(), "w");
    if (f == nullptr) throw std::runtime_error("fopen " + path);
    PEM_write_X509(f, cert);
    std::fclose(f);
}

inline void write_pem(const std::string& path, EVP_PKEY* key) {
    std::FILE* f = std::fopen(path.c_str(), "w");
    if (f == nullptr) throw std::runtime_error("fopen " + path);
    PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(f);
}

// The PKI, its files in a temporary directory removed on destruction.
struct TestPki {
    std::string dir;
    PkeyPtr ca_key = make_ec_key(), server_key = make_ec_key(), client_key = make_ec_key(),
            other_key = make_ec_key();
    X509Ptr ca_cert, server_cert, client_cert;

    TestPki() {
        char tmpl[] = "/tmp/herald-tls-XXXXXX";
        if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp");
        dir = tmpl;
        ca_cert = make_cert("herald test CA", ca_key.get(), nullptr, ca_key.get(), true, 1);
        server_cert =
            make_cert("localhost", server_key.get(), ca_cert.get(), ca_key.get(), false, 2);
        client_cert = make_cert("client", client_key.get(), ca_cert.get(), ca_key.get(), false, 3);
        write_pem(path("ca.pem"), ca_cert.get());
        write_pem(path("server.pem"), server_cert.get());
        write_pem(path("server.key"), server_key.get());
        write_pem(path("client.pem"), client_cert.get());
        write_pem(path("client.key"), client_key.get());
        write_pem(path("other.key"), other_key.get());
        // The server's chain file: its certificate, then the CA (a chain is allowed).
        write_chain(path("chain.pem"));
    }
    ~TestPki() { std::filesystem::remove_all(dir); }
    TestPki(const TestPki&) = delete;
    TestPki& operator=(const TestPki&) = delete;

    std::string path(const char* name) const { return dir + "/" + name; }

    void write_chain(const std::string& p) const {
        std::FILE* f = std::fopen(p.c_str(), "w");
        if (f == nullptr) throw std::runtime_error("fopen " + p);
        PEM_write_X509(f, server_cert.get());
        PEM_write_X509(f, ca_cert.get());
        std::fclose(f);
    }
};

}  // namespace herald::test
