/*
 * The TLS presentation-language codec (src/mls/tls_codec.c): the varint length headers of
 * deserialization.json, read and written, and the rejects of RFC 9420 section 2.1.2 (the
 * prefix 11, an encoding longer than needed, a length over the caller's cap, truncation).
 */
#include <string.h>

#include "check.h"
#include "mls_vectors.h"
#include "mls/tls_codec.h"

static int
header_entry(const json_t *e, size_t idx)
{
	uint8_t hdr[4], out[8];
	size_t n, got_n = 7;
	int ok = 1;
	uint64_t len = mls_vec_uint(e, "length", &ok);
	struct cur c;
	struct buf b;
	long hl = check_unhex(json_string_value(json_object_get(e, "vlbytes_header")) ?
	    json_string_value(json_object_get(e, "vlbytes_header")) : "x", hdr, sizeof(hdr));
	(void)idx;

	VCHECK(ok, hl > 0);
	if (!ok)
		return 0;
	n = (size_t)hl;
	/* Read: the header alone decodes to the length and is consumed exactly. */
	cur_init(&c, hdr, n);
	VCHECK(ok, mls_cur_varint(&c) == len);
	VCHECK(ok, cur_finish(&c) == 0);
	VCHECK(ok, mls_varint_len(len) == n);
	/* Write: the length encodes to the same header. */
	buf_init_fixed(&b, out, sizeof(out));
	mls_buf_varint(&b, len);
	VCHECK(ok, buf_status(&b) == 0 && b.len == n && memcmp(out, hdr, n) == 0);
	/* As an opaque<V> header: a cap one below the length refuses before reading on,
	 * an exact cap with the bytes missing is a truncation. */
	if (len > 0) {
		cur_init(&c, hdr, n);
		VCHECK(ok, mls_cur_opaque(&c, len - 1, &got_n) == NULL && got_n == 0);
		VCHECK(ok, cur_status(&c) == SOTTO_ERR_TOO_LARGE);
		cur_init(&c, hdr, n);
		VCHECK(ok, mls_cur_opaque(&c, len, &got_n) == NULL);
		VCHECK(ok, cur_status(&c) == SOTTO_ERR_TRUNCATED);
	}
	return ok;
}

TEST(opaque_round_trip)
{
	uint8_t mem[400], data[300];
	struct buf b;
	struct cur c, v;
	const uint8_t *p;
	size_t n, i;

	for (i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)i;
	buf_init_fixed(&b, mem, sizeof(mem));
	mls_buf_opaque(&b, data, 0);
	mls_buf_opaque(&b, data, 63);
	mls_buf_opaque(&b, data, 64);
	mls_buf_opaque(&b, data, 2);
	REQUIRE(buf_status(&b) == 0);
	CHECK_EQ_INT(b.len, 1 + 1 + 63 + 2 + 64 + 1 + 2);
	cur_init(&c, b.p, b.len);
	p = mls_cur_opaque(&c, 64, &n);
	CHECK(p != NULL && n == 0);
	p = mls_cur_opaque(&c, 64, &n);
	CHECK(p != NULL && n == 63 && memcmp(p, data, 63) == 0);
	p = mls_cur_opaque(&c, 64, &n);
	CHECK(p != NULL && n == 64 && memcmp(p, data, 64) == 0);
	/* The last one as a vector of uint8 elements. */
	mls_cur_vector(&c, 2, &v);
	CHECK_EQ_INT(cur_u8(&v), 0);
	CHECK_EQ_INT(cur_u8(&v), 1);
	CHECK(cur_finish(&v) == 0);
	CHECK(cur_finish(&c) == 0);
}

TEST(rejects_bad_headers)
{
	static const struct { const char *hex; int err; } bad[] = {
		{ "c0", SOTTO_ERR_MALFORMED },          /* prefix 11 */
		{ "ffffffffffffffff", SOTTO_ERR_MALFORMED },
		{ "4000", SOTTO_ERR_MALFORMED },        /* 0 in two bytes */
		{ "403f", SOTTO_ERR_MALFORMED },        /* 63 in two bytes */
		{ "80003fff", SOTTO_ERR_MALFORMED },    /* 16383 in four bytes */
		{ "80000000", SOTTO_ERR_MALFORMED },
		{ "40", SOTTO_ERR_TRUNCATED },
		{ "800040", SOTTO_ERR_TRUNCATED },
		{ "", SOTTO_ERR_TRUNCATED },
	};
	uint8_t hdr[8];
	struct cur c, v;
	size_t i, n;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		long l = check_unhex(bad[i].hex, hdr, sizeof(hdr));

		REQUIRE(l >= 0);
		cur_init(&c, hdr, (size_t)l);
		CHECK_EQ_INT(mls_cur_varint(&c), 0);
		CHECK_EQ_INT(cur_status(&c), bad[i].err);
		cur_init(&c, hdr, (size_t)l);
		CHECK(mls_cur_opaque(&c, 1000, &n) == NULL);
		CHECK_EQ_INT(cur_status(&c), bad[i].err);
		cur_init(&c, hdr, (size_t)l);
		mls_cur_vector(&c, 1000, &v);
		CHECK_EQ_INT(cur_finish(&v), bad[i].err);
	}
	/* Trailing bytes after a complete value. */
	hdr[0] = 0x01;
	hdr[1] = 0xaa;
	hdr[2] = 0xbb;
	cur_init(&c, hdr, 3);
	CHECK(mls_cur_opaque(&c, 10, &n) != NULL && n == 1);
	CHECK_EQ_INT(cur_finish(&c), SOTTO_ERR_TRAILING);
}

TEST(write_refuses_too_long)
{
	uint8_t mem[8];
	struct buf b;

	buf_init_fixed(&b, mem, sizeof(mem));
	mls_buf_varint(&b, MLS_VARINT_MAX);
	CHECK(buf_status(&b) == 0 && b.len == 4);
	mls_buf_varint(&b, (uint64_t)MLS_VARINT_MAX + 1);
	CHECK_EQ_INT(buf_status(&b), SOTTO_ERR_TOO_LARGE);
	CHECK_EQ_INT(mls_varint_len((uint64_t)MLS_VARINT_MAX + 1), 0);
}

int
main(void)
{
	mls_vec_run("deserialization.json", 14, header_entry);
	RUN(opaque_round_trip);
	RUN(rejects_bad_headers);
	RUN(write_refuses_too_long);
	return check_summary();
}
