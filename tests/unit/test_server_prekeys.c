/* sottod against a real process: the prekey directory. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "client/conn.h"
#include "sottod_proc.h"

/* LOOKUP answers whether an address has an account, costs no one-time prekey, and is
 * refused before registration. */
TEST(lookup_known_unknown_and_foreign)
{
	struct sottod_proc sp;
	struct test_user a, b, guest;

	REQUIRE(sottod_proc_launch(&sp, "registration = open") == 0);
	test_user_new(&guest, "guest");
	REQUIRE(test_user_join(&a, &sp, "alice") == 0);
	REQUIRE(test_user_join(&b, &sp, "bob") == 0);
	CHECK_EQ_INT(test_user_upload(&a, 100, 1), 0);
	CHECK_EQ_INT(test_user_lookup(&b, "alice@localhost"), 0);
	CHECK_EQ_INT(test_user_lookup(&b, "alice@localhost"), 0);
	CHECK_EQ_INT(test_user_lookup(&b, "nobody@localhost"), SOTTO_ERR_UNKNOWN_USER);
	CHECK_EQ_INT(test_user_lookup(&b, "alice@elsewhere.example"), SOTTO_ERR_OTHER_DOMAIN);
	/* The one-time prekey is still there after the lookups. */
	REQUIRE(test_user_fetch(&b, "alice@localhost") == 0);
	CHECK_EQ_INT(b.resp.u.bundle.has_otpk, 1);
	REQUIRE(test_user_connect(&guest, &sp) == 0);
	CHECK_EQ_INT(test_user_lookup(&guest, "alice@localhost"), SOTTO_ERR_AUTH);
	test_user_close(&guest);
	test_user_close(&a);
	test_user_close(&b);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

TEST(prekeys_upload_fetch_exhaust_and_low_notice)
{
	struct sottod_proc sp;
	struct test_user a, b;
	uint32_t seen[5];

	REQUIRE(sottod_proc_launch(&sp, "registration = open\nprekey_low = 3") == 0);
	REQUIRE(test_user_join(&a, &sp, "alice") == 0);
	REQUIRE(test_user_join(&b, &sp, "bob") == 0);
	/* Alice starts with no prekeys: told right away. */
	REQUIRE(conn_next_event(a.c, &a.ev, 2000) == 0);
	CHECK_EQ_INT(a.ev.type, PROTO_PREKEY_LOW);
	CHECK_EQ_INT(a.ev.u.prekey_low.count, 0);
	while (conn_next_event(b.c, &b.ev, 0) == 0)
		;
	CHECK_EQ_INT(test_user_fetch(&b, "alice@localhost"), SOTTO_ERR_NOT_FOUND);
	CHECK_EQ_INT(test_user_fetch(&b, "nobody@localhost"), SOTTO_ERR_UNKNOWN_USER);
	CHECK_EQ_INT(test_user_fetch(&b, "alice@elsewhere.example"), SOTTO_ERR_OTHER_DOMAIN);
	CHECK_EQ_INT(test_user_upload(&a, 100, 5), 0);
	for (int i = 0; i < 5; i++) {
		REQUIRE(test_user_fetch(&b, "alice@localhost") == 0);
		CHECK_MEM(b.resp.u.bundle.identity_pk, a.id_pk, 32);
		CHECK_EQ_INT(b.resp.u.bundle.spk.id, 1);
		CHECK_EQ_INT(b.resp.u.bundle.spk.sig[0], 0x22);
		CHECK_EQ_INT(b.resp.u.bundle.has_otpk, 1);
		seen[i] = b.resp.u.bundle.otpk.id;
		CHECK_EQ_INT(b.resp.u.bundle.otpk.pub[0], (uint8_t)seen[i]);
		for (int j = 0; j < i; j++)
			CHECK(seen[j] != seen[i]);         /* each handed out once */
	}
	/* Exhausted: a bundle without a one-time prekey. */
	REQUIRE(test_user_fetch(&b, "alice@localhost") == 0);
	CHECK_EQ_INT(b.resp.u.bundle.has_otpk, 0);
	CHECK_EQ_INT(b.resp.u.bundle.spk.id, 1);
	/* Alice was told as her stock fell under 3. */
	{
		int notices = 0, last = -1;
		while (conn_next_event(a.c, &a.ev, 500) == 0)
			if (a.ev.type == PROTO_PREKEY_LOW) {
				notices++;
				last = (int)a.ev.u.prekey_low.count;
			}
		CHECK(notices >= 3);
		CHECK_EQ_INT(last, 0);
	}
	test_user_close(&a);
	test_user_close(&b);
	/* A clean exit: under ASan this also reports leaks and errors of the server. */
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

TEST(prekeys_cap_and_owner_offline_notice)
{
	struct sottod_proc sp;
	struct test_user a, b;

	REQUIRE(sottod_proc_launch(&sp, "registration = open\nprekey_low = 2\nprekey_max = 8") ==
	    0);
	REQUIRE(test_user_join(&a, &sp, "alice") == 0);
	REQUIRE(test_user_join(&b, &sp, "bob") == 0);
	CHECK_EQ_INT(test_user_upload(&a, 1, 9), SOTTO_ERR_LIMIT);
	CHECK_EQ_INT(test_user_upload(&a, 1, 3), 0);
	test_user_close(&a);
	REQUIRE(test_user_fetch(&b, "alice@localhost") == 0);
	REQUIRE(test_user_fetch(&b, "alice@localhost") == 0);
	/* Alice was offline; on her next connection she hears her stock is low. */
	REQUIRE(test_user_connect(&a, &sp) == 0);
	REQUIRE(conn_next_event(a.c, &a.ev, 2000) == 0);
	CHECK_EQ_INT(a.ev.type, PROTO_PREKEY_LOW);
	CHECK_EQ_INT(a.ev.u.prekey_low.count, 1);
	test_user_close(&a);
	test_user_close(&b);
	/* A clean exit: under ASan this also reports leaks and errors of the server. */
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	RUN(prekeys_upload_fetch_exhaust_and_low_notice);
	RUN(prekeys_cap_and_owner_offline_notice);
	RUN(lookup_known_unknown_and_foreign);
	return check_summary();
}
