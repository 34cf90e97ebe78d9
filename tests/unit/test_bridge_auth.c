#include <stdio.h>
#include <string.h>

#include "bridge/auth.h"
#include "check.h"

#define USER "alice@a.example"
#define PW "a password"

static char hash[BRIDGE_AUTH_HASH_BYTES];

static struct bridge_auth *
make(uv_loop_t *loop)
{
	struct bridge_auth_config cfg = {
		.user = USER, .pw_hash = hash, .free_failures = 2, .fail_delay_ms = 100,
		.delay_max_ms = 1600,
	};
	struct bridge_auth *a = NULL;

	if (bridge_auth_new(&a, loop, &cfg) != 0)
		return NULL;
	return a;
}

/* Making the password is libsotto's (test_bridge_runner / bridge_password_made_once_and_kept);
 * checking a login against its hash is here. */
TEST(auth_verify_takes_the_user_and_its_password)
{
	char pw1[] = "abcdefghijklmnopqrstuvwxyz", pw2[] = "abcdefghijklmnopqrstuvwxy2";
	char h[BRIDGE_AUTH_HASH_BYTES];

	REQUIRE(bridge_auth_hash_password(pw1, strlen(pw1), crypto_pwhash_OPSLIMIT_MIN,
	    crypto_pwhash_MEMLIMIT_MIN, h) == 0);
	/* The stored form is a pwhash string, never the password. */
	CHECK(strncmp(h, "$argon2id$", 10) == 0);
	CHECK(strstr(h, pw1) == NULL);
	CHECK_EQ_INT(bridge_auth_verify(USER, h, (const uint8_t *)USER, strlen(USER),
	    (const uint8_t *)pw1, strlen(pw1)), 0);
	CHECK_EQ_INT(bridge_auth_verify(USER, h, (const uint8_t *)"ALICE@a.example", 15,
	    (const uint8_t *)pw1, strlen(pw1)), 0);
	CHECK_EQ_INT(bridge_auth_verify(USER, h, (const uint8_t *)USER, strlen(USER),
	    (const uint8_t *)pw2, strlen(pw2)), SOTTO_ERR_AUTH);
	CHECK_EQ_INT(bridge_auth_verify(USER, h, (const uint8_t *)"bob@a.example", 13,
	    (const uint8_t *)pw1, strlen(pw1)), SOTTO_ERR_AUTH);
	CHECK_EQ_INT(bridge_auth_verify(USER, h, (const uint8_t *)USER, strlen(USER) - 1,
	    (const uint8_t *)pw1, strlen(pw1)), SOTTO_ERR_AUTH);
	CHECK_EQ_INT(bridge_auth_verify(USER, h, (const uint8_t *)USER, strlen(USER),
	    (const uint8_t *)pw1, strlen(pw1) - 1), SOTTO_ERR_AUTH);
	sodium_memzero(pw1, sizeof(pw1));
	sodium_memzero(pw2, sizeof(pw2));
}

static uint64_t
fail(struct bridge_auth *a, const char *name, uint64_t now)
{
	return bridge_auth_failed(a, (const uint8_t *)name, strlen(name), now);
}

/* Failures are counted per user name (any case): after the free ones, each doubles the
 * delay before the answer, up to the cap; other names are unaffected; a quiet name
 * starts afresh. Nothing is ever refused unchecked. */
TEST(auth_per_name_delay_doubles_and_decays)
{
	uv_loop_t loop;
	struct bridge_auth *a;
	uint64_t t = 1000000;

	uv_loop_init(&loop);
	REQUIRE((a = make(&loop)) != NULL);
	CHECK_EQ_INT(fail(a, USER, t), 100);
	CHECK_EQ_INT(fail(a, "ALICE@A.example", t), 100);       /* two free failures */
	CHECK_EQ_INT(fail(a, USER, t), 200);
	CHECK_EQ_INT(fail(a, "bob@a.example", t), 100);         /* another name: its own count */
	CHECK_EQ_INT(fail(a, USER, t + 10), 400);
	CHECK_EQ_INT(fail(a, USER, t + 20), 800);
	CHECK_EQ_INT(fail(a, USER, t + 30), 1600);
	CHECK_EQ_INT(fail(a, USER, t + 40), 1600);              /* capped */
	CHECK_EQ_INT(fail(a, "bob@a.example", t + 50), 100);
	/* 15 minutes without a failure: the name starts afresh */
	CHECK_EQ_INT(fail(a, USER, t + 40 + 16 * 60 * 1000), 100);
	bridge_auth_free(a);
	uv_loop_close(&loop);
}

/* The table of names is capped: a thousand names leave it at BRIDGE_AUTH_NAMES entries
 * (it is a fixed array), and the name failing now is always remembered. */
TEST(auth_name_table_is_capped)
{
	uv_loop_t loop;
	struct bridge_auth *a;
	uint64_t t = 1000000;
	char name[64];
	int i;

	uv_loop_init(&loop);
	REQUIRE((a = make(&loop)) != NULL);
	for (i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "u%d@a.example", i);
		(void)fail(a, name, t + (uint64_t)i);
		(void)fail(a, USER, t + (uint64_t)i);
	}
	CHECK_EQ_INT(fail(a, USER, t + 1000), 1600);
	bridge_auth_free(a);
	uv_loop_close(&loop);
}

struct outcome {
	int done;
	int result;
};

static void
on_result(void *arg, int result)
{
	struct outcome *o = arg;

	o->done = 1;
	o->result = result;
}

TEST(auth_async_check_on_thread_pool)
{
	uv_loop_t loop;
	struct bridge_auth *a;
	struct bridge_auth_req *req;
	struct outcome good = { 0, 1 }, bad = { 0, 1 }, cancelled = { 0, 1 };
	char h[BRIDGE_AUTH_HASH_BYTES];
	uint64_t t0;

	REQUIRE(bridge_auth_hash_password(PW, strlen(PW), crypto_pwhash_OPSLIMIT_MIN,
	    crypto_pwhash_MEMLIMIT_MIN, h) == 0);
	memcpy(hash, h, sizeof(h));
	uv_loop_init(&loop);
	REQUIRE((a = make(&loop)) != NULL);
	REQUIRE(bridge_auth_check(a, (const uint8_t *)USER, strlen(USER),
	    (const uint8_t *)PW, strlen(PW), on_result, &good, &req) == 0);
	CHECK(!good.done);      /* never answered from inside the call */
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK(good.done);
	CHECK_EQ_INT(good.result, 0);

	uv_update_time(&loop);
	t0 = uv_now(&loop);
	REQUIRE(bridge_auth_check(a, (const uint8_t *)USER, strlen(USER),
	    (const uint8_t *)"nope", 4, on_result, &bad, &req) == 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK(bad.done);
	CHECK_EQ_INT(bad.result, SOTTO_ERR_AUTH);
	CHECK(uv_now(&loop) - t0 >= 100);       /* the failure delay */

	REQUIRE(bridge_auth_check(a, (const uint8_t *)USER, strlen(USER),
	    (const uint8_t *)PW, strlen(PW), on_result, &cancelled, &req) == 0);
	bridge_auth_cancel(req);
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK(!cancelled.done);

	/* Freed with a check in flight: the check finishes quietly, then memory goes. */
	REQUIRE(bridge_auth_check(a, (const uint8_t *)USER, strlen(USER),
	    (const uint8_t *)PW, strlen(PW), on_result, &cancelled, &req) == 0);
	bridge_auth_free(a);
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK(!cancelled.done);
	CHECK_EQ_INT(uv_loop_close(&loop), 0);
}

/* Item 6 of issue 18: everyone on the machine can reach the bridge, so wrong passwords
 * for the owner's name or for other names, many at once, must not keep the owner out: the
 * right password is accepted, while each further wrong one for a name waits longer. */
TEST(auth_right_password_is_never_locked_out)
{
	enum { WRONG = 12 };
	static const uint64_t expect_ms[] = { 100, 100, 200, 400 };
	uv_loop_t loop;
	struct bridge_auth *a;
	struct bridge_auth_req *req;
	struct outcome wrong[2 * WRONG], right = { 0, 1 }, later = { 0, 1 };
	char h[BRIDGE_AUTH_HASH_BYTES];
	uint64_t t0;
	size_t i;

	REQUIRE(bridge_auth_hash_password(PW, strlen(PW), crypto_pwhash_OPSLIMIT_MIN,
	    crypto_pwhash_MEMLIMIT_MIN, h) == 0);
	memcpy(hash, h, sizeof(h));
	uv_loop_init(&loop);
	REQUIRE((a = make(&loop)) != NULL);
	for (i = 0; i < 2 * WRONG; i++) {
		const char *name = i % 2 ? USER : "mallory@a.example";

		wrong[i].done = 0;
		REQUIRE(bridge_auth_check(a, (const uint8_t *)name, strlen(name),
		    (const uint8_t *)"guess", 5, on_result, &wrong[i], &req) == 0);
	}
	REQUIRE(bridge_auth_check(a, (const uint8_t *)USER, strlen(USER), (const uint8_t *)PW,
	    strlen(PW), on_result, &right, &req) == 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	for (i = 0; i < 2 * WRONG; i++)
		CHECK(wrong[i].done && wrong[i].result == SOTTO_ERR_AUTH);
	CHECK(right.done);
	CHECK_EQ_INT(right.result, 0);
	/* and still, after all that, the right password again */
	REQUIRE(bridge_auth_check(a, (const uint8_t *)USER, strlen(USER), (const uint8_t *)PW,
	    strlen(PW), on_result, &later, &req) == 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK(later.done && later.result == 0);
	bridge_auth_free(a);

	/* one name's failures, one after another: each answer waits at least as long as the
	 * doubling says */
	REQUIRE((a = make(&loop)) != NULL);
	for (i = 0; i < sizeof(expect_ms) / sizeof(expect_ms[0]); i++) {
		struct outcome o = { 0, 1 };

		uv_update_time(&loop);
		t0 = uv_now(&loop);
		REQUIRE(bridge_auth_check(a, (const uint8_t *)USER, strlen(USER),
		    (const uint8_t *)"guess", 5, on_result, &o, &req) == 0);
		uv_run(&loop, UV_RUN_DEFAULT);
		CHECK(o.done && o.result == SOTTO_ERR_AUTH);
		CHECK(uv_now(&loop) - t0 >= expect_ms[i]);
	}
	bridge_auth_free(a);
	CHECK_EQ_INT(uv_loop_close(&loop), 0);
}

int
main(void)
{
	RUN(auth_verify_takes_the_user_and_its_password);
	RUN(auth_per_name_delay_doubles_and_decays);
	RUN(auth_name_table_is_capped);
	RUN(auth_right_password_is_never_locked_out);
	RUN(auth_async_check_on_thread_pool);
	return check_summary();
}
