/*
 * Sealed envelopes for a fixed recipient (identity from a fixed seed, so seeds made for it
 * open). The first byte picks: 0 open an envelope; 1 unpad and parse content directly (the
 * part behind the AEAD, which mutated envelopes never reach); 2 seal fields taken from the
 * input and check that opening gives them back.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/cursor.h"
#include "crypto/init.h"
#include "crypto/pad.h"
#include "crypto/sealed.h"
#include "crypto/suite_native.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct x3dh_identity rcpt, sender;

static void
roundtrip(const uint8_t *data, size_t size)
{
	struct sealed_content c;
	struct sealed_opened o;
	struct cur cu;
	struct buf env;
	size_t alen, clen;
	const char *addr;
	int r;

	cur_init(&cu, data, size);
	c.msg_type = (uint8_t)(1 + (cur_u8(&cu) & 1));
	addr = (const char *)cur_lv16(&cu, SEALED_ADDR_MAX, &alen);
	c.cert = cur_lv16(&cu, SEALED_CERT_MAX, &clen);
	c.msg = cur_rest(&cu, &c.msg_len);
	if (cur_status(&cu) != 0 || alen == 0 || memchr(addr, 0, alen) != NULL || c.msg_len == 0)
		return;
	c.sender_addr = addr;
	c.sender_addr_len = alen;
	c.cert_len = clen;
	buf_init_dyn(&env, SEALED_ENVELOPE_MAX);
	r = sealed_seal(&env, &sender, rcpt.pub, &c);
	if (r == 0) {
		if (sealed_open(&o, &rcpt, env.p, env.len) != 0 ||
		    memcmp(o.sender_ident, sender.pub, 32) != 0 || o.sender_addr_len != alen ||
		    memcmp(o.sender_addr, addr, alen) != 0 || o.cert_len != clen ||
		    (clen > 0 && memcmp(o.cert, c.cert, clen) != 0) || o.msg_type != c.msg_type ||
		    o.msg_len != c.msg_len || memcmp(o.msg, c.msg, c.msg_len) != 0)
			abort();
		sealed_opened_free(&o);
	} else if (r != SOTTO_ERR_TOO_LARGE) {
		abort();
	}
	buf_free(&env);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct sealed_opened o;
	size_t n;

	if (!ready) {
		static const uint8_t seed[32] = { 'r', 'c', 'p', 't' }, sseed[32] = { 's' };

		if (sotto_crypto_init() != 0 || suite_native_identity_from_seed(&rcpt, seed) != 0 ||
		    suite_native_identity_from_seed(&sender, sseed) != 0)
			abort();
		ready = 1;
	}
	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0:
		if (sealed_open(&o, &rcpt, data + 1, size - 1) == 0) {
			if (o.sender_addr_len == 0 || o.sender_addr_len > SEALED_ADDR_MAX ||
			    o.cert_len > SEALED_CERT_MAX || o.msg_len == 0 || o.msg == NULL)
				abort();
			sealed_opened_free(&o);
		}
		break;
	case 1:
		if (pad_remove(&n, data + 1, size - 1) == 0) {
			if (n >= size - 1 || data[1 + n] != PAD_MARK)
				abort();
			memset(&o, 0, sizeof(o));
			if (sealed_content_parse(&o, data + 1, n) == 0 && o.msg == NULL)
				abort();
			sealed_opened_free(&o);
		}
		break;
	default:
		roundtrip(data + 1, size - 1);
		break;
	}
	return 0;
}
