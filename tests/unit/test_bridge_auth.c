#include <stdio.h>
#include <string.h>

#include "bridge/auth.h"
#include "check.h"

#define USER "alice@a.example"
#define PW "a password"

static char hash[BRIDGE_AUTH_HASH_BYTES];

static struct bridge_auth *
make(uv_loop_t *loop, unsigned global)
{
	struct bridge_auth_config cfg = {
		.user = USER, .pw_hash = hash, .free_failures = 2, .fail_delay_ms = 100,
		.lockout_ms = 1000, .lockout_max_ms = 4000, .global_per_min = global,
	};
	struct bridge_auth *a = NULL;

	if (bridge_auth_new(&a, loop, &cfg) != 0)
		return NULL;
	return a;
}

TEST(auth_new_password_is_random_and_verifies)
{
	char pw1[BRIDGE_PASSWORD_CHARS + 1], pw2[BRIDGE_PASSWORD_CHARS + 1];
	char h[BRIDGE_AUTH_HASH_BYTES];
	size_t i;

	REQUIRE(bridge_auth_new_password(pw1, h) == 0);
	REQUIRE(bridge_auth_new_password(pw2, hash) == 0);
	CHECK_EQ_INT(strlen(pw1), BRIDGE_PASSWORD_CHARS);
	CHECK(strcmp(pw1, pw2) != 0);
	for (i = 0; i < BRIDGE_PASSWORD_CHARS; i++)
		CHECK(strchr("abcdefghijklmnopqrstuvwxyz234567", pw1[i]) != NULL);
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

TEST(auth_per_address_lockout_doubles_and_decays)
{
	uv_loop_t loop;
	struct bridge_auth *a;
	uint64_t t = 1000000;

	uv_loop_init(&loop);
	REQUIRE((a = make(&loop, 1000)) != NULL);
	CHECK_EQ_INT(bridge_auth_admit(a, "10.0.0.1", t), 0);
	CHECK_EQ_INT(bridge_auth_record(a, "10.0.0.1", 0, t), 100);
	CHECK_EQ_INT(bridge_auth_record(a, "10.0.0.1", 0, t), 100);
	CHECK_EQ_INT(bridge_auth_admit(a, "10.0.0.1", t), 0);       /* two free failures */
	(void)bridge_auth_record(a, "10.0.0.1", 0, t);              /* third: locked 1 s */
	CHECK_EQ_INT(bridge_auth_admit(a, "10.0.0.1", t + 1000), SOTTO_ERR_LIMIT);
	CHECK_EQ_INT(bridge_auth_admit(a, "10.0.0.2", t + 1000), 0); /* others unaffected */
	CHECK_EQ_INT(bridge_auth_admit(a, "10.0.0.1", t + 1100), 0);
	(void)bridge_auth_record(a, "10.0.0.1", 0, t + 1100);      /* fourth: 2 s */
	CHECK_EQ_INT(bridge_auth_admit(a, "10.0.0.1", t + 3100), SOTTO_ERR_LIMIT);
	CHECK_EQ_INT(bridge_auth_admit(a, "10.0.0.1", t + 3200), 0);
	(void)bridge_auth_record(a, "10.0.0.1", 0, t + 3200);      /* 4 s */
	(void)bridge_auth_record(a, "10.0.0.1", 0, t + 3200);      /* capped at 4 s */
	CHECK_EQ_INT(bridge_auth_admit(a, "10.0.0.1", t + 7200), SOTTO_ERR_LIMIT);
	CHECK_EQ_INT(bridge_auth_admit(a, "10.0.0.1", t + 7300), 0);
	/* Success clears the count. */
	(void)bridge_auth_record(a, "10.0.0.1", 1, t + 7300);
	(void)bridge_auth_record(a, "10.0.0.1", 0, t + 7300);
	CHECK_EQ_INT(bridge_auth_admit(a, "10.0.0.1", t + 7300), 0);
	/* Failures long ago are forgotten. */
	(void)bridge_auth_record(a, "10.0.0.1", 0, t + 7300);
	(void)bridge_auth_record(a, "10.0.0.1", 0, t + 7300 + 16 * 60 * 1000);
	CHECK_EQ_INT(bridge_auth_admit(a, "10.0.0.1", t + 7300 + 16 * 60 * 1000), 0);
	bridge_auth_free(a);
	uv_loop_close(&loop);
}

TEST(auth_global_limit_across_addresses)
{
	uv_loop_t loop;
	struct bridge_auth *a;
	uint64_t t = 5000000;
	char addr[32];
	int i;

	uv_loop_init(&loop);
	REQUIRE((a = make(&loop, 5)) != NULL);
	for (i = 0; i < 5; i++) {
		snprintf(addr, sizeof(addr), "10.1.0.%d", i);
		CHECK_EQ_INT(bridge_auth_admit(a, addr, t), 0);
		(void)bridge_auth_record(a, addr, 0, t);
	}
	CHECK_EQ_INT(bridge_auth_admit(a, "10.9.9.9", t + 1), SOTTO_ERR_LIMIT);
	CHECK_EQ_INT(bridge_auth_admit(a, "10.9.9.9", t + 60000), 0);
	/* Many addresses cannot flush a locked one out of the table for free: the global
	 * window stops them first. */
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
	REQUIRE((a = make(&loop, 1000)) != NULL);
	REQUIRE(bridge_auth_check(a, "127.0.0.1", (const uint8_t *)USER, strlen(USER),
	    (const uint8_t *)PW, strlen(PW), on_result, &good, &req) == 0);
	CHECK(!good.done);      /* never answered from inside the call */
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK(good.done);
	CHECK_EQ_INT(good.result, 0);

	uv_update_time(&loop);
	t0 = uv_now(&loop);
	REQUIRE(bridge_auth_check(a, "127.0.0.1", (const uint8_t *)USER, strlen(USER),
	    (const uint8_t *)"nope", 4, on_result, &bad, &req) == 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK(bad.done);
	CHECK_EQ_INT(bad.result, SOTTO_ERR_AUTH);
	CHECK(uv_now(&loop) - t0 >= 100);       /* the failure delay */

	REQUIRE(bridge_auth_check(a, "127.0.0.1", (const uint8_t *)USER, strlen(USER),
	    (const uint8_t *)PW, strlen(PW), on_result, &cancelled, &req) == 0);
	bridge_auth_cancel(req);
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK(!cancelled.done);

	/* Freed with a check in flight: the check finishes quietly, then memory goes. */
	REQUIRE(bridge_auth_check(a, "127.0.0.1", (const uint8_t *)USER, strlen(USER),
	    (const uint8_t *)PW, strlen(PW), on_result, &cancelled, &req) == 0);
	bridge_auth_free(a);
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK(!cancelled.done);
	CHECK_EQ_INT(uv_loop_close(&loop), 0);
}

int
main(void)
{
	RUN(auth_new_password_is_random_and_verifies);
	RUN(auth_per_address_lockout_doubles_and_decays);
	RUN(auth_global_limit_across_addresses);
	RUN(auth_async_check_on_thread_pool);
	return check_summary();
}
