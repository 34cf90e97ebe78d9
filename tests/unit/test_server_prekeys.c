/* sottod against a real process: the prekey directory. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "client/conn.h"
#include "sottod_proc.h"

static struct proto_msg req, resp, ev;

static int
upload(struct test_user *u, uint32_t first, size_t n)
{
	memset(&req, 0, sizeof(req));
	req.type = PROTO_UPLOAD_PREKEYS;
	req.u.upload.spk.id = 1;
	memset(req.u.upload.spk.pub, 0x11, 32);
	memset(req.u.upload.spk.sig, 0x22, 64);
	req.u.upload.n_otpk = n;
	for (size_t i = 0; i < n; i++) {
		req.u.upload.otpk[i].id = first + (uint32_t)i;
		memset(req.u.upload.otpk[i].pub, (int)(first + i), 32);
	}
	if (conn_request(u->c, &req, &resp, 5000) != 0)
		return -1000;
	return resp.status;
}

static int
fetch(struct test_user *u, const char *address)
{
	memset(&req, 0, sizeof(req));
	req.type = PROTO_FETCH_BUNDLE;
	snprintf(req.u.fetch.address, sizeof(req.u.fetch.address), "%s", address);
	if (conn_request(u->c, &req, &resp, 5000) != 0)
		return -1000;
	return resp.status;
}

TEST(prekeys_upload_fetch_exhaust_and_low_notice)
{
	struct sottod_proc sp;
	struct test_user a, b;
	uint32_t seen[5];

	REQUIRE(sottod_proc_init(&sp, "registration = open\nprekey_low = 3") == 0);
	REQUIRE(sottod_proc_start(&sp) == 0);
	test_user_new(&a, "alice");
	test_user_new(&b, "bob");
	REQUIRE(test_user_register(&a, &sp, NULL) == 0);
	REQUIRE(test_user_register(&b, &sp, NULL) == 0);
	/* Alice starts with no prekeys: told right away. */
	REQUIRE(conn_next_event(a.c, &ev, 2000) == 0);
	CHECK_EQ_INT(ev.type, PROTO_PREKEY_LOW);
	CHECK_EQ_INT(ev.u.prekey_low.count, 0);
	while (conn_next_event(b.c, &ev, 0) == 0)
		;
	CHECK_EQ_INT(fetch(&b, "alice@localhost"), SOTTO_ERR_NOT_FOUND);
	CHECK_EQ_INT(fetch(&b, "nobody@localhost"), SOTTO_ERR_NOT_FOUND);
	CHECK_EQ_INT(upload(&a, 100, 5), 0);
	for (int i = 0; i < 5; i++) {
		REQUIRE(fetch(&b, "alice@localhost") == 0);
		CHECK_MEM(resp.u.bundle.identity_pk, a.id_pk, 32);
		CHECK_EQ_INT(resp.u.bundle.spk.id, 1);
		CHECK_EQ_INT(resp.u.bundle.spk.sig[0], 0x22);
		CHECK_EQ_INT(resp.u.bundle.has_otpk, 1);
		seen[i] = resp.u.bundle.otpk.id;
		CHECK_EQ_INT(resp.u.bundle.otpk.pub[0], (uint8_t)seen[i]);
		for (int j = 0; j < i; j++)
			CHECK(seen[j] != seen[i]);         /* each handed out once */
	}
	/* Exhausted: a bundle without a one-time prekey. */
	REQUIRE(fetch(&b, "alice@localhost") == 0);
	CHECK_EQ_INT(resp.u.bundle.has_otpk, 0);
	CHECK_EQ_INT(resp.u.bundle.spk.id, 1);
	/* Alice was told as her stock fell under 3. */
	{
		int notices = 0, last = -1;
		while (conn_next_event(a.c, &ev, 500) == 0)
			if (ev.type == PROTO_PREKEY_LOW) {
				notices++;
				last = (int)ev.u.prekey_low.count;
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

	REQUIRE(sottod_proc_init(&sp, "registration = open\nprekey_low = 2\nprekey_max = 8") ==
	    0);
	REQUIRE(sottod_proc_start(&sp) == 0);
	test_user_new(&a, "alice");
	test_user_new(&b, "bob");
	REQUIRE(test_user_register(&a, &sp, NULL) == 0);
	REQUIRE(test_user_register(&b, &sp, NULL) == 0);
	CHECK_EQ_INT(upload(&a, 1, 9), SOTTO_ERR_LIMIT);
	CHECK_EQ_INT(upload(&a, 1, 3), 0);
	test_user_close(&a);
	REQUIRE(fetch(&b, "alice@localhost") == 0);
	REQUIRE(fetch(&b, "alice@localhost") == 0);
	/* Alice was offline; on her next connection she hears her stock is low. */
	REQUIRE(test_user_connect(&a, &sp) == 0);
	REQUIRE(conn_next_event(a.c, &ev, 2000) == 0);
	CHECK_EQ_INT(ev.type, PROTO_PREKEY_LOW);
	CHECK_EQ_INT(ev.u.prekey_low.count, 1);
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
	return check_summary();
}
