/*
 * Transcript hashes (src/mls/transcript.c) on transcript-hashes.json: the commit's
 * AuthenticatedContent is parsed (framing.c, proposal.c, leaf_node.c) and written back
 * byte for byte; its confirmation tag verifies under the confirmation key; the confirmed
 * and interim hashes match. Then framing rejects.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mls_vectors.h"
#include "crypto/init.h"
#include "mls/framing.h"
#include "mls/transcript.h"

static int
transcript_entry(const json_t *e, size_t idx)
{
	uint8_t key[MLS_HASH_LEN], interim_before[MLS_HASH_LEN], confirmed[MLS_HASH_LEN];
	uint8_t interim[MLS_HASH_LEN];
	size_t n;
	uint8_t *ac_bytes = mls_vec_hex(e, "authenticated_content", &n);
	struct mls_authenticated_content ac;
	struct cur c;
	struct buf b;
	int ok = ac_bytes != NULL &&
	    mls_vec_hex_fixed(e, "confirmation_key", key, sizeof(key)) == 0 &&
	    mls_vec_hex_fixed(e, "interim_transcript_hash_before", interim_before,
	    sizeof(interim_before)) == 0;
	(void)idx;

	VCHECK(ok, mls_vec_uint(e, "cipher_suite", &ok) == 3);
	if (!ok) {
		free(ac_bytes);
		return 0;
	}
	cur_init(&c, ac_bytes, n);
	mls_authenticated_content_read(&c, &ac);
	VCHECK(ok, cur_finish(&c) == 0);
	VCHECK(ok, ac.content.content_type == MLS_CONTENT_COMMIT);
	if (ok) {
		buf_init_dyn(&b, n + 1);
		mls_authenticated_content_write(&b, &ac);
		VCHECK(ok, buf_status(&b) == 0 && b.len == n && memcmp(b.p, ac_bytes, n) == 0);
		buf_free(&b);
		VCHECK(ok, mls_confirmed_transcript_hash(confirmed, interim_before,
		    sizeof(interim_before), ac.wire_format, &ac.content, ac.auth.signature,
		    ac.auth.signature_len) == 0);
		ok &= mls_vec_eq(e, "confirmed_transcript_hash_after", confirmed, sizeof(confirmed));
		VCHECK(ok, mls_confirmation_tag_verify(ac.auth.confirmation_tag,
		    ac.auth.confirmation_tag_len, key, confirmed) == 0);
		key[0] ^= 1;
		VCHECK(ok, mls_confirmation_tag_verify(ac.auth.confirmation_tag,
		    ac.auth.confirmation_tag_len, key, confirmed) == SOTTO_ERR_AUTH);
		mls_interim_transcript_hash(interim, confirmed, ac.auth.confirmation_tag);
		ok &= mls_vec_eq(e, "interim_transcript_hash_after", interim, sizeof(interim));
	}
	free(ac_bytes);
	return ok;
}

/* Byte strings that must not parse as AuthenticatedContent. */
TEST(framing_rejects)
{
#define HEAD(wire, sender) wire "0100" "0000000000000001" sender "00000000" "00"
	static const char *bad[] = {
		HEAD("0003", "01") "01" "00" "00",          /* wire format 3 */
		HEAD("0001", "05") "01" "00" "00",          /* sender type 5 */
		HEAD("0001", "01") "04" "00" "00",          /* content type 4 */
		HEAD("0001", "01") "02" "0063" "00",        /* proposal type 99 */
		HEAD("0001", "01") "03" "00" "02" "00",     /* optional<UpdatePath> = 2 */
		HEAD("0001", "01") "03" "00" "00" "00" "1f" "00",   /* short confirmation tag */
		HEAD("0001", "01") "01" "00" "00" "ff",     /* trailing byte */
		HEAD("0001", "01") "01" "4000" "00",        /* non-minimal length */
	};
	uint8_t mem[64];
	struct mls_authenticated_content ac;
	struct cur c;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		long n = check_unhex(bad[i], mem, sizeof(mem));

		REQUIRE(n > 0);
		cur_init(&c, mem, (size_t)n);
		mls_authenticated_content_read(&c, &ac);
		if (cur_finish(&c) == 0)
			check_fail(__FILE__, __LINE__, bad[i]);
	}
	/* And a well-formed one: an empty application message from member 0. */
	REQUIRE(check_unhex(HEAD("0001", "01") "01" "00" "00", mem, sizeof(mem)) == 21);
	cur_init(&c, mem, 21);
	mls_authenticated_content_read(&c, &ac);
	CHECK(cur_finish(&c) == 0);
	CHECK(ac.content.sender_type == 1 && ac.content.epoch == 1 && ac.content.body_len == 0);
#undef HEAD
}

int
main(void)
{
	if (sotto_crypto_init() != 0)
		return 1;
	mls_vec_run("transcript-hashes.json", 1, transcript_entry);
	RUN(framing_rejects);
	return check_summary();
}
