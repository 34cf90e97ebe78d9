#include <string.h>

#include "base/buf.h"
#include "base/cursor.h"
#include "check.h"

TEST(cursor_reads_big_endian)
{
	static const uint8_t in[] = { 1, 0, 2, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 4 };
	struct cur c;

	cur_init(&c, in, sizeof(in));
	CHECK_EQ_INT(cur_u8(&c), 1);
	CHECK_EQ_INT(cur_u16(&c), 2);
	CHECK_EQ_INT(cur_u32(&c), 3);
	CHECK_EQ_INT(cur_u64(&c), 4);
	CHECK_EQ_INT(cur_finish(&c), 0);
}

TEST(cursor_truncation_is_sticky)
{
	static const uint8_t in[] = { 1, 2, 3 };
	struct cur c;

	cur_init(&c, in, sizeof(in));
	CHECK_EQ_INT(cur_u32(&c), 0);
	CHECK_EQ_INT(cur_u8(&c), 0);
	CHECK(cur_ref(&c, 0) == NULL);
	CHECK_EQ_INT(cur_finish(&c), SOTTO_ERR_TRUNCATED);
}

TEST(cursor_rejects_trailing)
{
	static const uint8_t in[] = { 1, 2 };
	struct cur c;

	cur_init(&c, in, sizeof(in));
	(void)cur_u8(&c);
	CHECK_EQ_INT(cur_finish(&c), SOTTO_ERR_TRAILING);
	CHECK_EQ_INT(cur_status(&c), 0);
}

TEST(cursor_length_checked_before_read)
{
	static const uint8_t in[] = { 0xff, 0xff, 1, 2 };
	struct cur c;
	size_t n = 99;

	cur_init(&c, in, sizeof(in));
	CHECK(cur_lv16(&c, 100, &n) == NULL);
	CHECK_EQ_INT(n, 0);
	CHECK_EQ_INT(cur_finish(&c), SOTTO_ERR_TOO_LARGE);

	cur_init(&c, in + 2, 0);
	CHECK(cur_lv16(&c, 100, &n) == NULL);
	CHECK_EQ_INT(cur_finish(&c), SOTTO_ERR_TRUNCATED);
}

TEST(cursor_on_empty_null_input)
{
	struct cur c;
	size_t n;

	cur_init(&c, NULL, 0);
	CHECK(cur_ref(&c, 0) != NULL);
	CHECK(cur_rest(&c, &n) != NULL && n == 0);
	CHECK_EQ_INT(cur_finish(&c), 0);
	CHECK(cur_ref(&c, 1) == NULL);
	CHECK_EQ_INT(cur_finish(&c), SOTTO_ERR_TRUNCATED);
}

TEST(buf_roundtrip_through_cursor)
{
	struct buf b;
	struct cur c;
	const uint8_t *p;
	size_t n;

	buf_init_dyn(&b, 1 << 20);
	buf_u8(&b, 7);
	buf_u16(&b, 0x1234);
	buf_u64(&b, 0x0102030405060708ull);
	buf_lv16(&b, "hello", 5);
	buf_lv32(&b, "", 0);
	REQUIRE(buf_status(&b) == 0);
	cur_init(&c, b.p, b.len);
	CHECK_EQ_INT(cur_u8(&c), 7);
	CHECK_EQ_INT(cur_u16(&c), 0x1234);
	CHECK(cur_u64(&c) == 0x0102030405060708ull);
	p = cur_lv16(&c, 16, &n);
	CHECK(p != NULL && n == 5 && memcmp(p, "hello", 5) == 0);
	p = cur_lv32(&c, 16, &n);
	CHECK(p != NULL && n == 0);
	CHECK_EQ_INT(cur_finish(&c), 0);
	buf_wipe_free(&b);
}

TEST(buf_fixed_overflow_is_error)
{
	uint8_t mem[4];
	struct buf b;

	buf_init_fixed(&b, mem, sizeof(mem));
	buf_u32(&b, 1);
	CHECK_EQ_INT(buf_status(&b), 0);
	buf_u8(&b, 1);
	CHECK_EQ_INT(buf_status(&b), SOTTO_ERR_TOO_LARGE);
	CHECK_EQ_INT(b.len, 4);
}

TEST(buf_dyn_respects_max)
{
	struct buf b;
	uint8_t big[100] = { 0 };

	buf_init_dyn(&b, 150);
	buf_put(&b, big, 100);
	CHECK_EQ_INT(buf_status(&b), 0);
	buf_put(&b, big, 51);
	CHECK_EQ_INT(buf_status(&b), SOTTO_ERR_TOO_LARGE);
	CHECK_EQ_INT(b.len, 100);
	buf_free(&b);
}

TEST(strerror_covers_every_code)
{
	int e;

	for (e = 0; e > SOTTO_ERR__LAST; e--)
		CHECK(strcmp(sotto_strerror(e), "unknown error") != 0);
	CHECK(strcmp(sotto_strerror(1), "unknown error") == 0);
	CHECK(strcmp(sotto_strerror(SOTTO_ERR__LAST), "unknown error") == 0);
}

int
main(void)
{
	RUN(cursor_reads_big_endian);
	RUN(cursor_truncation_is_sticky);
	RUN(cursor_rejects_trailing);
	RUN(cursor_length_checked_before_read);
	RUN(cursor_on_empty_null_input);
	RUN(buf_roundtrip_through_cursor);
	RUN(buf_fixed_overflow_is_error);
	RUN(buf_dyn_respects_max);
	RUN(strerror_covers_every_code);
	return check_summary();
}
