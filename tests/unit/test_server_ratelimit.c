#include <string.h>

#include <sodium.h>

#include "check.h"
#include "server/ratelimit.h"

TEST(bucket_allows_burst_then_rate)
{
	struct ratelimit_bucket b;
	int ok = 0;

	ratelimit_bucket_init(&b, 5, 1000);
	for (int i = 0; i < 10; i++)
		ok += ratelimit_take(&b, 2, 5, 1000);
	CHECK_EQ_INT(ok, 5);
	/* 2 per second: after 500 ms one more token, after 1 s two. */
	CHECK_EQ_INT(ratelimit_take(&b, 2, 5, 1500), 1);
	CHECK_EQ_INT(ratelimit_take(&b, 2, 5, 1500), 0);
	CHECK_EQ_INT(ratelimit_take(&b, 2, 5, 2500), 1);
	CHECK_EQ_INT(ratelimit_take(&b, 2, 5, 2500), 1);
	CHECK_EQ_INT(ratelimit_take(&b, 2, 5, 2500), 0);
	/* A long pause refills only up to the burst. */
	ok = 0;
	for (int i = 0; i < 10; i++)
		ok += ratelimit_take(&b, 2, 5, 100000);
	CHECK_EQ_INT(ok, 5);
	/* A clock that goes backwards grants nothing. */
	CHECK_EQ_INT(ratelimit_take(&b, 2, 5, 50), 0);
}

/* ::ffff:0.0.0.n: an IPv4 address as the server stores it. */
static void
v4(uint8_t a[RATELIMIT_ADDR_LEN], uint32_t n)
{
	memset(a, 0, RATELIMIT_ADDR_LEN);
	a[10] = a[11] = 0xff;
	a[12] = (uint8_t)(n >> 24), a[13] = (uint8_t)(n >> 16);
	a[14] = (uint8_t)(n >> 8), a[15] = (uint8_t)n;
}

TEST(addresses_counted_and_released)
{
	struct ratelimit_addrs *t = ratelimit_addrs_new();
	struct ratelimit_addr_limits two = { 2, 0, 1 }, one = { 1, 0, 1 };
	uint8_t a[RATELIMIT_ADDR_LEN], b[RATELIMIT_ADDR_LEN];

	REQUIRE(t != NULL);
	v4(a, 1);
	v4(b, 2);
	CHECK_EQ_INT(ratelimit_addr_acquire(t, a, &two, 0), RATELIMIT_ADMIT);
	CHECK_EQ_INT(ratelimit_addr_acquire(t, a, &two, 0), RATELIMIT_ADMIT);
	CHECK_EQ_INT(ratelimit_addr_acquire(t, a, &two, 0), RATELIMIT_TOO_MANY);
	CHECK_EQ_INT(ratelimit_addr_acquire(t, b, &two, 0), RATELIMIT_ADMIT);
	CHECK_EQ_INT(ratelimit_addrs_count(t), 2);
	ratelimit_addr_release(t, a, 0);
	CHECK_EQ_INT(ratelimit_addr_acquire(t, a, &two, 0), RATELIMIT_ADMIT);
	ratelimit_addr_release(t, a, 0);
	ratelimit_addr_release(t, a, 0);
	ratelimit_addr_release(t, b, 0);
	CHECK_EQ_INT(ratelimit_addrs_count(t), 0);
	/* Many distinct addresses: the table grows and still finds each. */
	for (uint32_t i = 0; i < 5000; i++) {
		v4(a, i);
		CHECK_EQ_INT(ratelimit_addr_acquire(t, a, &one, 0), RATELIMIT_ADMIT);
	}
	CHECK_EQ_INT(ratelimit_addrs_count(t), 5000);
	for (uint32_t i = 0; i < 5000; i++) {
		v4(a, i);
		if (ratelimit_addr_acquire(t, a, &one, 0) != RATELIMIT_TOO_MANY)
			CHECK(0);
		ratelimit_addr_release(t, a, 0);
	}
	CHECK_EQ_INT(ratelimit_addrs_count(t), 0);
	ratelimit_addrs_free(t);
}

/* IPv6 addresses are limited by their /64: a subscriber's whole prefix is one address. */
TEST(ipv6_limited_per_64)
{
	struct ratelimit_addrs *t = ratelimit_addrs_new();
	struct ratelimit_addr_limits two = { 2, 0, 1 };
	uint8_t a[RATELIMIT_ADDR_LEN] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1 };
	uint8_t b[RATELIMIT_ADDR_LEN], c[RATELIMIT_ADDR_LEN], d[RATELIMIT_ADDR_LEN];

	REQUIRE(t != NULL);
	a[15] = 1;
	memcpy(b, a, sizeof(b));
	randombytes_buf(b + 8, 8);              /* same /64, another interface id */
	memcpy(c, a, sizeof(c));
	c[15] = 9;
	memcpy(d, a, sizeof(d));
	d[7] = 2;                               /* the next /64 */
	CHECK_EQ_INT(ratelimit_addr_acquire(t, a, &two, 0), RATELIMIT_ADMIT);
	CHECK_EQ_INT(ratelimit_addr_acquire(t, b, &two, 0), RATELIMIT_ADMIT);
	CHECK_EQ_INT(ratelimit_addr_acquire(t, c, &two, 0), RATELIMIT_TOO_MANY);
	CHECK_EQ_INT(ratelimit_addr_acquire(t, d, &two, 0), RATELIMIT_ADMIT);
	CHECK_EQ_INT(ratelimit_addrs_count(t), 2);
	/* Released under any address of the prefix. */
	ratelimit_addr_release(t, c, 0);
	CHECK_EQ_INT(ratelimit_addr_acquire(t, a, &two, 0), RATELIMIT_ADMIT);
	ratelimit_addr_release(t, a, 0);
	ratelimit_addr_release(t, b, 0);
	ratelimit_addr_release(t, d, 0);
	CHECK_EQ_INT(ratelimit_addrs_count(t), 0);
	ratelimit_addrs_free(t);
}

/*
 * New connections per address: a burst, then the rate; closing connections does not give
 * the burst back (the address stays in the table until its rate has recovered), and such
 * idle addresses leave the table once it has.
 */
TEST(connection_rate_per_address)
{
	struct ratelimit_addrs *t = ratelimit_addrs_new();
	struct ratelimit_addr_limits lim = { 100, 2, 3 };
	uint8_t a[RATELIMIT_ADDR_LEN], b[RATELIMIT_ADDR_LEN];
	int ok = 0;

	REQUIRE(t != NULL);
	v4(a, 7);
	v4(b, 8);
	for (int i = 0; i < 10; i++)
		if (ratelimit_addr_acquire(t, a, &lim, 1000) == RATELIMIT_ADMIT) {
			ok++;
			ratelimit_addr_release(t, a, 1000);
		}
	CHECK_EQ_INT(ok, 3);
	CHECK_EQ_INT(ratelimit_addr_acquire(t, a, &lim, 1000), RATELIMIT_TOO_FAST);
	/* Another address is not affected. */
	CHECK_EQ_INT(ratelimit_addr_acquire(t, b, &lim, 1000), RATELIMIT_ADMIT);
	ratelimit_addr_release(t, b, 1000);
	/* 2 per second: one more after 500 ms. */
	CHECK_EQ_INT(ratelimit_addr_acquire(t, a, &lim, 1500), RATELIMIT_ADMIT);
	CHECK_EQ_INT(ratelimit_addr_acquire(t, a, &lim, 1500), RATELIMIT_TOO_FAST);
	ratelimit_addr_release(t, a, 1500);
	CHECK_EQ_INT(ratelimit_addrs_count(t), 2);
	/* Each new connection sweeps a slot: once their burst is back, idle addresses go,
	 * those that just connected stay. */
	for (int i = 0; i < 4096; i++) {
		uint8_t x[RATELIMIT_ADDR_LEN];
		v4(x, 1000000u + (uint32_t)i);
		CHECK_EQ_INT(ratelimit_addr_acquire(t, x, &lim, 100000), RATELIMIT_ADMIT);
		ratelimit_addr_release(t, x, 100000);
	}
	CHECK_EQ_INT(ratelimit_addrs_count(t), 4096);
	for (int i = 0; i < 20000; i++) {
		CHECK_EQ_INT(ratelimit_addr_acquire(t, b, &lim, 200000 + 1000 * (uint64_t)i),
		    RATELIMIT_ADMIT);
		ratelimit_addr_release(t, b, 200000 + 1000 * (uint64_t)i);
	}
	CHECK_EQ_INT(ratelimit_addrs_count(t), 1);
	/* rate 0: no limit. */
	lim.rate = 0;
	for (int i = 0; i < 100; i++) {
		CHECK_EQ_INT(ratelimit_addr_acquire(t, a, &lim, 100000), RATELIMIT_ADMIT);
		ratelimit_addr_release(t, a, 100000);
	}
	ratelimit_addrs_free(t);
}

/* A mailbox's key (handle_delivery.c): its account id in the first 8 bytes. */
static void
mailbox(uint8_t k[RATELIMIT_ADDR_LEN], uint64_t id)
{
	memset(k, 0, RATELIMIT_ADDR_LEN);
	for (int i = 0; i < 8; i++)
		k[i] = (uint8_t)(id >> (8 * (7 - i)));
}

/* ratelimit_key_take: each key its own rate; an entry stays while its rate has not
 * recovered, and the sweep drops the recovered ones, so the table follows the keys in use. */
TEST(key_rate_per_key_and_entries_swept)
{
	struct ratelimit_addrs *t = ratelimit_addrs_new();
	uint8_t a[RATELIMIT_ADDR_LEN], b[RATELIMIT_ADDR_LEN];
	int ok = 0;

	REQUIRE(t != NULL);
	mailbox(a, 1);
	mailbox(b, 2);
	for (int i = 0; i < 10; i++)
		ok += ratelimit_key_take(t, a, 2, 4, 1000);
	CHECK_EQ_INT(ok, 4);
	CHECK_EQ_INT(ratelimit_key_take(t, b, 2, 4, 1000), 1);     /* another mailbox */
	CHECK_EQ_INT(ratelimit_addrs_count(t), 2);
	/* 2 a second: one more after 500 ms, not two. */
	CHECK_EQ_INT(ratelimit_key_take(t, a, 2, 4, 1500), 1);
	CHECK_EQ_INT(ratelimit_key_take(t, a, 2, 4, 1500), 0);
	/* Many keys taken once each, at a rate that recovers within a millisecond: the
	 * sweep (one slot per call) keeps the table near the keys of the last moment. */
	for (uint64_t id = 100; id < 20100; id++) {
		mailbox(a, id);
		CHECK_EQ_INT(ratelimit_key_take(t, a, 1000000, 1000000, 10000 + id), 1);
	}
	CHECK(ratelimit_addrs_count(t) < 20000);
	ratelimit_addrs_free(t);
}

int
main(void)
{
	if (sodium_init() < 0)
		return 1;
	RUN(bucket_allows_burst_then_rate);
	RUN(addresses_counted_and_released);
	RUN(ipv6_limited_per_64);
	RUN(connection_rate_per_address);
	RUN(key_rate_per_key_and_entries_swept);
	return check_summary();
}
