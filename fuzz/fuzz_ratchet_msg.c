/*
 * Ratchet and prekey messages against a fixed pair of native sessions. The first input byte
 * picks the path: 0 a normal message to Bob, 1 a prekey message to Bob's existing session,
 * 2 a new session from a prekey message, 3 a normal message to Alice. Any state change (a
 * successful decrypt) is undone from a snapshot, so every input sees the same session.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/init.h"
#include "crypto/e2e_session.h"
#include "crypto/suite_native.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct x3dh_identity ida, idb;
static struct x3dh_keypair spk, opk;
static struct e2e_session *alice, *bob;
static struct buf snap_a, snap_b;

static void
setup(void)
{
	static const uint8_t sa[32] = { 'a' }, sb[32] = { 'b' };
	struct x3dh_bundle bundle;
	uint8_t out[64];
	struct buf m, pt;
	int type;

	if (sotto_crypto_init() != 0 || suite_native_identity_from_seed(&ida, sa) != 0 ||
	    suite_native_identity_from_seed(&idb, sb) != 0 ||
	    x3dh_keypair_generate(&spk, 1) != 0 || x3dh_keypair_generate(&opk, 2) != 0 ||
	    x3dh_bundle_make(&suite_native, &bundle, &idb, 0, &spk, &opk) != 0 ||
	    e2e_session_initiate(&alice, &suite_native, &ida, &bundle, NULL) != 0)
		abort();
	buf_init_dyn(&m, 4096);
	buf_init_fixed(&pt, out, sizeof(out));
	if (e2e_session_encrypt(alice, &m, &type, (const uint8_t *)"hi", 2) != 0 ||
	    e2e_session_respond(&bob, &suite_native, &idb, &spk, &opk, m.p, m.len, &pt, NULL) != 0)
		abort();
	buf_free(&m);
	buf_init_dyn(&snap_a, 1u << 24);
	buf_init_dyn(&snap_b, 1u << 24);
	if (e2e_session_serialize(alice, &snap_a) != 0 || e2e_session_serialize(bob, &snap_b) != 0)
		abort();
}

static void
restore(struct e2e_session **s, const struct buf *snap)
{
	e2e_session_free(*s);
	if (e2e_session_deserialize(s, &suite_native, snap->p, snap->len) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct e2e_session *fresh = NULL;
	struct ratchet_header h;
	struct x3dh_init_info info;
	struct buf pt;
	int r;

	if (!ready) {
		setup();
		ready = 1;
	}
	if (size < 1)
		return 0;
	buf_init_dyn(&pt, RATCHET_PLAINTEXT_MAX);
	(void)suite_native.parse_header(&h, data + 1, size - 1);
	switch (data[0] & 3) {
	case 0:
		if ((r = e2e_session_decrypt(bob, &pt, E2E_SESSION_MSG_NORMAL, data + 1, size - 1)) == 0)
			restore(&bob, &snap_b);
		break;
	case 1:
		if ((r = e2e_session_decrypt(bob, &pt, E2E_SESSION_MSG_PREKEY, data + 1, size - 1)) == 0)
			restore(&bob, &snap_b);
		break;
	case 2:
		if (e2e_session_prekey_info(&suite_native, &info, data + 1, size - 1) == 0 &&
		    e2e_session_respond(&fresh, &suite_native, &idb, &spk,
		        info.has_opk ? &opk : NULL, data + 1, size - 1, &pt, NULL) == 0)
			e2e_session_free(fresh);
		break;
	default:
		if ((r = e2e_session_decrypt(alice, &pt, E2E_SESSION_MSG_NORMAL, data + 1, size - 1)) == 0)
			restore(&alice, &snap_a);
		break;
	}
	buf_wipe_free(&pt);
	return 0;
}
