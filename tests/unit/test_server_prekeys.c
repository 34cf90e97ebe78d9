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

/* ML-KEM prekeys: three fetchers taking turns get each one-time key exactly once, in
 * upload order, then all get the last-resort key, which stays; a new upload replaces the
 * last-resort key and refills the stock; PREKEY_LOW counts the smaller stock. */
TEST(kem_prekeys_claimed_once_then_last_resort)
{
	struct sottod_proc sp;
	struct test_user a, f[3];
	int taken[8] = { 0 };

	REQUIRE(sottod_proc_launch(&sp, "registration = open\nprekey_low = 3") == 0);
	REQUIRE(test_user_join(&a, &sp, "alice") == 0);
	REQUIRE(test_user_join(&f[0], &sp, "bob") == 0);
	REQUIRE(test_user_join(&f[1], &sp, "carol") == 0);
	REQUIRE(test_user_join(&f[2], &sp, "dave") == 0);
	CHECK_EQ_INT(test_user_upload(&a, 100, 20), 0);
	CHECK_EQ_INT(test_user_upload_kem(&a, 1, 6, 7), 0);
	for (int i = 0; i < 6; i++) {
		struct test_user *u = &f[i % 3];

		REQUIRE(test_user_fetch(u, "alice@localhost") == 0);
		CHECK_EQ_INT(u->resp.u.bundle.has_kem, 1);
		CHECK_EQ_INT(u->resp.u.bundle.kem_id, i + 1);
		CHECK_EQ_INT(u->resp.u.bundle.kem_ek[0], i + 1);
		CHECK_EQ_INT(u->resp.u.bundle.kem_ek[PROTO_KEM_EK_LEN - 1], i + 1);
		CHECK_EQ_INT(u->resp.u.bundle.kem_sig[63], 0x33);
		CHECK_EQ_INT(u->resp.u.bundle.has_otpk, 1);
		REQUIRE(u->resp.u.bundle.kem_id < 8);
		CHECK_EQ_INT(taken[u->resp.u.bundle.kem_id]++, 0);
	}
	for (int i = 0; i < 4; i++) {
		struct test_user *u = &f[i % 3];

		REQUIRE(test_user_fetch(u, "alice@localhost") == 0);
		CHECK_EQ_INT(u->resp.u.bundle.has_kem, 1);
		CHECK_EQ_INT(u->resp.u.bundle.kem_id, 7);
		CHECK_EQ_INT(u->resp.u.bundle.kem_ek[5], 0xee);
		CHECK_EQ_INT(u->resp.u.bundle.kem_sig[0], 0x44);
	}
	/* A refill of ML-KEM keys (and a new last-resort one): taken in order, then the new
	 * last resort. */
	CHECK_EQ_INT(test_user_upload_kem(&a, 20, 2, 30), 0);
	REQUIRE(test_user_fetch(&f[0], "alice@localhost") == 0);
	CHECK_EQ_INT(f[0].resp.u.bundle.kem_id, 20);
	REQUIRE(test_user_fetch(&f[0], "alice@localhost") == 0);
	CHECK_EQ_INT(f[0].resp.u.bundle.kem_id, 21);
	REQUIRE(test_user_fetch(&f[0], "alice@localhost") == 0);
	CHECK_EQ_INT(f[0].resp.u.bundle.kem_id, 30);       /* the new last resort */
	{
		int last = -1;
		while (conn_next_event(a.c, &a.ev, 500) == 0)
			if (a.ev.type == PROTO_PREKEY_LOW)
				last = (int)a.ev.u.prekey_low.count;
		CHECK_EQ_INT(last, 0);  /* the ML-KEM stock; 7 X25519 keys are left */
	}
	/* An account without ML-KEM prekeys hands out bundles without one. */
	CHECK_EQ_INT(test_user_upload(&f[1], 1, 2), 0);
	REQUIRE(test_user_fetch(&f[0], "carol@localhost") == 0);
	CHECK_EQ_INT(f[0].resp.u.bundle.has_kem, 0);
	CHECK_EQ_INT(f[0].resp.u.bundle.has_otpk, 1);
	test_user_close(&a);
	for (int i = 0; i < 3; i++)
		test_user_close(&f[i]);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

/* More ML-KEM one-time prekeys than prekey_max: refused, and nothing of the upload (not
 * even its X25519 part) is stored. */
TEST(kem_prekeys_cap_refuses_whole_upload)
{
	struct sottod_proc sp;
	struct test_user a, b;

	REQUIRE(sottod_proc_launch(&sp, "registration = open\nprekey_max = 4") == 0);
	REQUIRE(test_user_join(&a, &sp, "alice") == 0);
	REQUIRE(test_user_join(&b, &sp, "bob") == 0);
	CHECK_EQ_INT(test_user_upload_kem(&a, 1, 5, 9), SOTTO_ERR_LIMIT);
	CHECK_EQ_INT(test_user_fetch(&b, "alice@localhost"), SOTTO_ERR_NOT_FOUND);
	CHECK_EQ_INT(test_user_upload_kem(&a, 1, 4, 9), 0);
	REQUIRE(test_user_fetch(&b, "alice@localhost") == 0);
	CHECK_EQ_INT(b.resp.u.bundle.kem_id, 1);
	test_user_close(&a);
	test_user_close(&b);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	SOTTOD_RUN_BOTH(prekeys_upload_fetch_exhaust_and_low_notice);
	SOTTOD_RUN_BOTH(prekeys_cap_and_owner_offline_notice);
	SOTTOD_RUN_BOTH(lookup_known_unknown_and_foreign);
	SOTTOD_RUN_BOTH(kem_prekeys_claimed_once_then_last_resort);
	SOTTOD_RUN_BOTH(kem_prekeys_cap_refuses_whole_upload);
	return check_summary();
}
