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

TEST(addresses_counted_and_released)
{
	struct ratelimit_addrs *t = ratelimit_addrs_new();
	uint8_t a[RATELIMIT_ADDR_LEN] = { 0 }, b[RATELIMIT_ADDR_LEN] = { 0 };

	REQUIRE(t != NULL);
	a[15] = 1;
	b[15] = 2;
	CHECK_EQ_INT(ratelimit_addr_acquire(t, a, 2), 1);
	CHECK_EQ_INT(ratelimit_addr_acquire(t, a, 2), 1);
	CHECK_EQ_INT(ratelimit_addr_acquire(t, a, 2), 0);
	CHECK_EQ_INT(ratelimit_addr_acquire(t, b, 2), 1);
	CHECK_EQ_INT(ratelimit_addrs_count(t), 2);
	ratelimit_addr_release(t, a);
	CHECK_EQ_INT(ratelimit_addr_acquire(t, a, 2), 1);
	ratelimit_addr_release(t, a);
	ratelimit_addr_release(t, a);
	ratelimit_addr_release(t, b);
	CHECK_EQ_INT(ratelimit_addrs_count(t), 0);
	/* Many distinct addresses: the table grows and still finds each. */
	for (int i = 0; i < 5000; i++) {
		memcpy(a, &i, sizeof(i));
		CHECK_EQ_INT(ratelimit_addr_acquire(t, a, 1), 1);
	}
	CHECK_EQ_INT(ratelimit_addrs_count(t), 5000);
	for (int i = 0; i < 5000; i++) {
		memcpy(a, &i, sizeof(i));
		if (ratelimit_addr_acquire(t, a, 1) != 0)
			CHECK(0);
		ratelimit_addr_release(t, a);
	}
	CHECK_EQ_INT(ratelimit_addrs_count(t), 0);
	ratelimit_addrs_free(t);
}

int
main(void)
{
	if (sodium_init() < 0)
		return 1;
	RUN(bucket_allows_burst_then_rate);
	RUN(addresses_counted_and_released);
	return check_summary();
}
