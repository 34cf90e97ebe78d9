/* sottod against real processes: registration, the pinned key, sender certificates. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "check.h"
#include "client/conn.h"
#include "sottod_proc.h"
#include "wire/cert.h"

TEST(register_open)
{
	struct sottod_proc sp;
	struct test_user a, b, imp;

	REQUIRE(sottod_proc_launch(&sp, "registration = open") == 0);
	test_user_new(&a, "alice");
	test_user_new(&b, "bob");
	CHECK_EQ_INT(test_user_register(&a, &sp, NULL), 0);
	/* Registering again from the same device, or the same name from another. */
	CHECK_EQ_INT(test_user_register(&a, &sp, NULL), SOTTO_ERR_EXISTS);
	test_user_new(&imp, "alice");
	CHECK_EQ_INT(test_user_register(&imp, &sp, NULL), SOTTO_ERR_EXISTS);
	/* Another domain is not ours. */
	snprintf(b.address, sizeof(b.address), "bob@elsewhere.example");
	CHECK_EQ_INT(test_user_register(&b, &sp, NULL), SOTTO_ERR_OTHER_DOMAIN);
	/* A signature by another identity key is refused. */
	snprintf(b.address, sizeof(b.address), "bob@localhost");
	memset(&b.req, 0, sizeof(b.req));
	b.req.type = PROTO_REGISTER;
	strcpy(b.req.u.reg.address, b.address);
	memcpy(b.req.u.reg.identity_pk, b.id_pk, 32);
	memcpy(b.req.u.reg.device_pk, b.dev_pk, 32);
	REQUIRE(proto_register_sign(&b.req.u.reg, a.id_sk) == 0);
	CHECK_EQ_INT(test_user_request(&b, 5000), SOTTO_ERR_BAD_SIGNATURE);
	/* A device key other than the connection's. */
	memcpy(b.req.u.reg.device_pk, a.dev_pk, 32);
	REQUIRE(proto_register_sign(&b.req.u.reg, b.id_sk) == 0);
	CHECK_EQ_INT(test_user_request(&b, 5000), SOTTO_ERR_AUTH);
	/* Before registering, other requests are refused. */
	CHECK_EQ_INT(test_user_cert(&b), SOTTO_ERR_AUTH);
	CHECK_EQ_INT(test_user_register(&b, &sp, NULL), 0);
	/* A registered device is recognised on its next connection. */
	test_user_close(&a);
	REQUIRE(test_user_connect(&a, &sp) == 0);
	CHECK_EQ_INT(test_user_cert(&a), 0);
	test_user_close(&a);
	test_user_close(&b);
	test_user_close(&imp);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

TEST(register_invite_only)
{
	struct sottod_proc sp;
	struct test_user a, b, c;
	char token[128] = "", token2[128] = "";
	const char *args[] = { "invite", "--data", NULL, NULL };

	REQUIRE(sottod_proc_launch(&sp, NULL) == 0);
	args[2] = sp.dir;
	CHECK_EQ_INT(sottod_proc_cmd(args, token, sizeof(token)), 0);
	CHECK_EQ_INT(sottod_proc_cmd(args, token2, sizeof(token2)), 0);
	token[strcspn(token, "\n")] = '\0';
	token2[strcspn(token2, "\n")] = '\0';
	CHECK(strlen(token) >= 20);
	CHECK(strcmp(token, token2) != 0);
	test_user_new(&a, "alice");
	test_user_new(&b, "bob");
	test_user_new(&c, "carol");
	CHECK_EQ_INT(test_user_register(&a, &sp, NULL), SOTTO_ERR_AUTH);
	CHECK_EQ_INT(test_user_register(&a, &sp, "not-a-token"), SOTTO_ERR_INVITE_UNKNOWN);
	CHECK_EQ_INT(test_user_register(&a, &sp, token), 0);
	/* Each token works once; a second use is told apart from a wrong token. */
	CHECK_EQ_INT(test_user_register(&b, &sp, token), SOTTO_ERR_INVITE_USED);
	CHECK_EQ_INT(test_user_register(&b, &sp, token2), 0);
	CHECK_EQ_INT(test_user_register(&c, &sp, token2), SOTTO_ERR_INVITE_USED);
	test_user_close(&a);
	test_user_close(&b);
	test_user_close(&c);
	/* A clean exit: under ASan this also reports leaks and errors of the server. */
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

TEST(handshake_against_wrong_server_key)
{
	struct sottod_proc sp;
	struct test_user a;
	struct address_server as;
	char wrong[400];
	uint8_t other_pk[32], other_sk[64];
	struct conn *c = NULL;

	REQUIRE(sottod_proc_launch(&sp, "registration = open") == 0);
	REQUIRE(address_server_parse(sp.address, &as) == 0);
	crypto_sign_keypair(other_pk, other_sk);
	memcpy(as.key, other_pk, 32);
	REQUIRE(address_server_format(&as, wrong, sizeof(wrong)) == 0);
	test_user_new(&a, "alice");
	CHECK_EQ_INT(conn_open(&c, wrong, a.dev_sk, 5000), SOTTO_ERR_AUTH);
	CHECK(c == NULL);
	/* The right key still works. */
	CHECK_EQ_INT(test_user_register(&a, &sp, NULL), 0);
	test_user_close(&a);
	/* A clean exit: under ASan this also reports leaks and errors of the server. */
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

TEST(sender_certificate_verified_and_expiry)
{
	struct sottod_proc sp;
	struct test_user a;
	struct address_server as;
	struct cert_sender cs;
	uint64_t now = (uint64_t)time(NULL);

	REQUIRE(sottod_proc_launch(&sp, "registration = open\ncert_ttl = 3600") == 0);
	REQUIRE(address_server_parse(sp.address, &as) == 0);
	REQUIRE(test_user_join(&a, &sp, "alice") == 0);
	REQUIRE(test_user_cert(&a) == 0);
	CHECK_EQ_INT(cert_verify(a.resp.u.cert.cert, a.resp.u.cert.len, as.key, now, &cs), 0);
	CHECK(strcmp(cs.address, "alice@localhost") == 0);
	CHECK_MEM(cs.identity_pk, a.id_pk, 32);
	CHECK(cs.expiry >= now + 3590 && cs.expiry <= now + 3610);
	/* After its expiry the same certificate is refused. */
	CHECK_EQ_INT(cert_verify(a.resp.u.cert.cert, a.resp.u.cert.len, as.key, cs.expiry, &cs),
	    SOTTO_ERR_EXPIRED);
	/* Another server's key does not verify it. */
	{
		uint8_t opk[32], osk[64];
		crypto_sign_keypair(opk, osk);
		CHECK_EQ_INT(cert_verify(a.resp.u.cert.cert, a.resp.u.cert.len, opk, now, &cs),
		    SOTTO_ERR_BAD_SIGNATURE);
	}
	/* A flipped byte breaks it. */
	a.resp.u.cert.cert[a.resp.u.cert.len - 70] ^= 1;
	CHECK(cert_verify(a.resp.u.cert.cert, a.resp.u.cert.len, as.key, now, &cs) != 0);
	test_user_close(&a);
	/* A clean exit: under ASan this also reports leaks and errors of the server. */
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

TEST(commands_and_exit_codes)
{
	struct sottod_proc sp;
	char out[512] = "";
	const char *help[] = { "--help", NULL };
	const char *bad[] = { "frobnicate", "--data", "/nonexistent", NULL };
	const char *addr[] = { "address", "--data", NULL, "--listen", "127.0.0.1:7999", NULL };
	const char *noserver[] = { "address", "--data", "/nonexistent/sotto", NULL };
	const char *badflag[] = { "run", "--data", "/tmp", "--registration", "maybe", NULL };

	CHECK_EQ_INT(sottod_proc_cmd(help, out, sizeof(out)), 0);
	CHECK(strstr(out, "sottod run") != NULL);
	CHECK_EQ_INT(sottod_proc_cmd(bad, NULL, 0), 2);
	CHECK_EQ_INT(sottod_proc_cmd(noserver, NULL, 0), 4);
	CHECK_EQ_INT(sottod_proc_cmd(badflag, NULL, 0), 3);
	REQUIRE(sottod_proc_launch(&sp, NULL) == 0);
	addr[2] = sp.dir;
	CHECK_EQ_INT(sottod_proc_cmd(addr, out, sizeof(out)), 0);
	/* Same key as the running server; the port is the configured one. */
	CHECK(strncmp(out, sp.address, 52) == 0);
	CHECK(strncmp(out, "sotto://", 8) == 0);
	CHECK(strstr(out, "@127.0.0.1:7999\n") != NULL);
	/* A clean exit: under ASan this also reports leaks and errors of the server. */
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	SOTTOD_RUN_BOTH(register_open);
	SOTTOD_RUN_BOTH(register_invite_only);
	SOTTOD_RUN_BOTH(handshake_against_wrong_server_key);
	SOTTOD_RUN_BOTH(sender_certificate_verified_and_expiry);
	SOTTOD_RUN_BOTH(commands_and_exit_codes);
	return check_summary();
}
