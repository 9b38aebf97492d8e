// Keys and tokens for the connect-token tests: a temporary key folder, RSA 2048 / EC P-256 key
// pairs as PEM texts (OpenSSL), and JWTs signed by libjwt. Header-only; for tests.
#pragma once

#include <gtest/gtest.h>
#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace herald::test {

// An HS256 secret long enough for ConnectTokenVerifier (32 bytes at least).
constexpr std::string_view kJwtSecret = "an HS256 secret of at least 32 bytes!";

// A temporary folder for key files, removed with its contents.
class KeyDir {
  public:
    KeyDir() {
        char tmpl[] = "/tmp/herald-keys-XXXXXX";
        dir_ = ::mkdtemp(tmpl);
    }
    ~KeyDir() { std::filesystem::remove_all(dir_); }
    KeyDir(const KeyDir&) = delete;
    KeyDir& operator=(const KeyDir&) = delete;
    // Writes `text` to the file `name` in the folder; returns its path.
    std::string write(const char* name, std::string_view text) const {
        const std::string p = dir_ + "/" + name;
        std::ofstream(p, std::ios::binary) << text;
        return p;
    }

  private:
    std::string dir_;
};

// A private/public PEM pair.
struct KeyPair {
    std::string private_pem, public_pem;
};

// RSA 2048 (rsa) or EC P-256, as PEM texts.
inline KeyPair make_key_pair(bool rsa) {
    EVP_PKEY* key = rsa ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
    KeyPair out;
    for (int pub = 0; pub < 2; ++pub) {
        BIO* bio = BIO_new(BIO_s_mem());
        if (pub != 0) {
            PEM_write_bio_PUBKEY(bio, key);
        } else {
            PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
        }
        char* data = nullptr;
        const long n = BIO_get_mem_data(bio, &data);
        (pub != 0 ? out.public_pem : out.private_pem).assign(data, static_cast<std::size_t>(n));
        BIO_free(bio);
    }
    EVP_PKEY_free(key);
    return out;
}

// A token with `claims_json` signed by libjwt with `alg` and `key`.
inline std::string sign(jwt_alg_t alg, std::string_view key, const std::string& claims_json) {
    jwt_t* jwt = nullptr;
    jwt_new(&jwt);
    EXPECT_EQ(jwt_add_grants_json(jwt, claims_json.c_str()), 0) << claims_json;
    jwt_set_alg(jwt, alg, reinterpret_cast<const unsigned char*>(key.data()),
                static_cast<int>(key.size()));
    char* text = jwt_encode_str(jwt);
    std::string out = text != nullptr ? text : "";
    std::free(text);
    jwt_free(jwt);
    return out;
}

}  // namespace herald::test
