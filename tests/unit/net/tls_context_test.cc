// Tests for TlsContext: loading the certificate, key and CA files, errors naming the file, reload
// keeping the old context on failure; and the kTLS probe.
#include "net/tls_context.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "tests/support/tls_test_pki.h"

namespace herald::net {
namespace {

void write_file(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::trunc) << text;
}

TEST(TlsContext, LoadsACertificateChainAndItsKey) {
    test::TestPki pki;
    core::Result<TlsContext> ctx =
        TlsContext::load({pki.path("chain.pem"), pki.path("server.key"), ""});
    ASSERT_TRUE(ctx) << ctx.error();
    EXPECT_NE(ctx->get(), nullptr);
    EXPECT_EQ(ctx->generation(), 0u);
}

TEST(TlsContext, LoadsAClientCaWhenGiven) {
    test::TestPki pki;
    core::Result<TlsContext> ctx =
        TlsContext::load({pki.path("server.pem"), pki.path("server.key"), pki.path("ca.pem")});
    ASSERT_TRUE(ctx) << ctx.error();
    EXPECT_EQ(SSL_CTX_get_verify_mode(ctx->get()),
              SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT);
}

TEST(TlsContext, NamesAMissingCertificateFile) {
    test::TestPki pki;
    core::Result<TlsContext> ctx =
        TlsContext::load({pki.path("nope.pem"), pki.path("server.key"), ""});
    ASSERT_FALSE(ctx);
    EXPECT_EQ(ctx.error(), "--tls-cert " + pki.path("nope.pem") + ": no such file");
}

TEST(TlsContext, NamesAMissingKeyFile) {
    test::TestPki pki;
    core::Result<TlsContext> ctx =
        TlsContext::load({pki.path("chain.pem"), "/nonexistent.key", ""});
    ASSERT_FALSE(ctx);
    EXPECT_EQ(ctx.error(), "--tls-key /nonexistent.key: no such file");
}

TEST(TlsContext, SaysWhenTheKeyDoesNotMatchTheCertificate) {
    test::TestPki pki;
    core::Result<TlsContext> ctx =
        TlsContext::load({pki.path("chain.pem"), pki.path("other.key"), ""});
    ASSERT_FALSE(ctx);
    EXPECT_EQ(ctx.error(), "--tls-key " + pki.path("other.key") +
                               ": does not match the certificate in " + pki.path("chain.pem"));
}

TEST(TlsContext, SaysWhenTheCertificateFileIsNotPem) {
    test::TestPki pki;
    write_file(pki.path("junk.pem"), "this is not a certificate\n");
    core::Result<TlsContext> ctx =
        TlsContext::load({pki.path("junk.pem"), pki.path("server.key"), ""});
    ASSERT_FALSE(ctx);
    EXPECT_EQ(ctx.error().rfind("--tls-cert " + pki.path("junk.pem") + ": no usable PEM", 0), 0u)
        << ctx.error();
    EXPECT_EQ(ctx.error().find('\n'), std::string::npos);
}

TEST(TlsContext, NamesABadCaFile) {
    test::TestPki pki;
    write_file(pki.path("junk-ca.pem"), "junk\n");
    core::Result<TlsContext> ctx =
        TlsContext::load({pki.path("chain.pem"), pki.path("server.key"), pki.path("junk-ca.pem")});
    ASSERT_FALSE(ctx);
    EXPECT_EQ(ctx.error().rfind("--tls-ca " + pki.path("junk-ca.pem") + ": ", 0), 0u)
        << ctx.error();
}

TEST(TlsContext, ReloadWithABrokenNewCertificateKeepsTheOldContext) {
    test::TestPki pki;
    TlsContext ctx = TlsContext::load({pki.path("chain.pem"), pki.path("server.key"), ""}).value();
    SSL_CTX* before = ctx.get();
    write_file(pki.path("chain.pem"), "-----BEGIN CERTIFICATE-----\nbroken\n");
    core::Status s = ctx.reload();
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().rfind("--tls-cert " + pki.path("chain.pem"), 0), 0u) << s.error();
    EXPECT_EQ(ctx.get(), before);
    EXPECT_EQ(ctx.generation(), 0u);
}

TEST(TlsContext, ReloadSwapsInANewContextWhileOldSslObjectsLive) {
    test::TestPki pki;
    TlsContext ctx = TlsContext::load({pki.path("chain.pem"), pki.path("server.key"), ""}).value();
    SSL* old_connection = SSL_new(ctx.get());
    SSL_CTX* before = ctx.get();
    ASSERT_TRUE(ctx.reload());
    EXPECT_NE(ctx.get(), before);
    EXPECT_EQ(ctx.generation(), 1u);
    EXPECT_EQ(SSL_get_SSL_CTX(old_connection), before);  // still alive: the SSL holds it
    SSL_free(old_connection);
}

TEST(KtlsProbe, FindsTheTlsUlpInTheList) {
    test::TestPki pki;
    write_file(pki.path("ulp"), "espintcp mptcp tls\n");
    const KtlsProbe p = probe_ktls(pki.path("ulp"));
    EXPECT_TRUE(p.available);
    EXPECT_NE(p.description.find("user space"), std::string::npos);
}

TEST(KtlsProbe, ReportsNoKtlsWhenTheListLacksTls) {
    test::TestPki pki;
    write_file(pki.path("ulp"), "espintcp mptcp\n");
    const KtlsProbe p = probe_ktls(pki.path("ulp"));
    EXPECT_FALSE(p.available);
    EXPECT_NE(p.description.find("espintcp mptcp"), std::string::npos);
}

TEST(KtlsProbe, ReportsNoKtlsWhenTheFileIsMissing) {
    const KtlsProbe p = probe_ktls("/nonexistent/tcp_available_ulp");
    EXPECT_FALSE(p.available);
    EXPECT_NE(p.description.find("unreadable"), std::string::npos);
}

TEST(KtlsProbe, GivesALogLineOnThisMachine) {
    const KtlsProbe p = probe_ktls();
    EXPECT_FALSE(p.description.empty());
    EXPECT_EQ(p.description.find('\n'), std::string::npos);
}

}  // namespace
}  // namespace herald::net
