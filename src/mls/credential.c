#include "mls/credential.h"

#include <string.h>
#include <sodium.h>

#include "crypto/sign.h"
#include "mls/tls_codec.h"

_Static_assert(MLS_CRED_KEY_LEN == SIGN_PUBLIC_LEN, "identity keys are Ed25519");
_Static_assert(MLS_SIG_LEN == SIGN_LEN, "one signature size");

#define LABEL_LEN (sizeof(MLS_CRED_LABEL) - 1)
#define TBS_MAX (LABEL_LEN + MLS_SIG_PUBLIC_LEN + 2 + MLS_CRED_ADDRESS_MAX + 4)

/* label || signature_key || opaque address<V> || uint32 device_id */
static int
credential_tbs(struct buf *b, const uint8_t sig_pub[static MLS_SIG_PUBLIC_LEN],
    const uint8_t *address, size_t address_len, uint32_t device_id)
{
	buf_put(b, MLS_CRED_LABEL, LABEL_LEN);
	buf_put(b, sig_pub, MLS_SIG_PUBLIC_LEN);
	mls_buf_opaque(b, address, address_len);
	buf_u32(b, device_id);
	return buf_status(b);
}

static int
address_ok(const uint8_t *a, size_t n)
{
	return n >= 1 && n <= MLS_CRED_ADDRESS_MAX && memchr(a, '\0', n) == NULL;
}

int
mls_credential_create(struct buf *out, const uint8_t identity_sk[static 64], const char *address,
    uint32_t device_id, const uint8_t sig_pub[static MLS_SIG_PUBLIC_LEN])
{
	uint8_t tbs_mem[TBS_MAX], sig[MLS_SIG_LEN];
	size_t alen = strnlen(address, MLS_CRED_ADDRESS_MAX + 1);
	struct buf tbs;
	int r;

	if (!address_ok((const uint8_t *)address, alen))
		return SOTTO_ERR_INVALID_ARG;
	buf_init_fixed(&tbs, tbs_mem, sizeof(tbs_mem));
	if ((r = credential_tbs(&tbs, sig_pub, (const uint8_t *)address, alen, device_id)) != 0 ||
	    (r = sign_detached(sig, tbs.p, tbs.len, identity_sk)) != 0)
		return r;
	buf_u8(out, MLS_CRED_VERSION);
	mls_buf_opaque(out, address, alen);
	mls_buf_opaque(out, identity_sk + 32, MLS_CRED_KEY_LEN);   /* libsodium: seed || pk */
	buf_u32(out, device_id);
	mls_buf_opaque(out, sig, sizeof(sig));
	return buf_status(out);
}

void
mls_credential_read(struct cur *c, struct mls_sotto_credential *cr)
{
	memset(cr, 0, sizeof(*cr));
	if (cur_u8(c) != MLS_CRED_VERSION) {
		cur_fail(c, SOTTO_ERR_BAD_VERSION);
		return;
	}
	cr->address = mls_cur_opaque(c, MLS_CRED_ADDRESS_MAX, &cr->address_len);
	cr->identity_key = mls_cur_opaque_fixed(c, MLS_CRED_KEY_LEN);
	cr->device_id = cur_u32(c);
	cr->signature = mls_cur_opaque_fixed(c, MLS_SIG_LEN);
	if (cur_status(c) == 0 && !address_ok(cr->address, cr->address_len))
		cur_fail(c, SOTTO_ERR_MALFORMED);
}

int
mls_credential_parse(const uint8_t *p, size_t len, struct mls_sotto_credential *cr)
{
	struct cur c;
	int r;

	cur_init(&c, p, len);
	mls_credential_read(&c, cr);
	if ((r = cur_finish(&c)) != 0)
		memset(cr, 0, sizeof(*cr));
	return r;
}

int
mls_credential_verify(const struct mls_sotto_credential *cr,
    const uint8_t sig_pub[static MLS_SIG_PUBLIC_LEN])
{
	uint8_t tbs_mem[TBS_MAX];
	struct buf tbs;

	buf_init_fixed(&tbs, tbs_mem, sizeof(tbs_mem));
	if (credential_tbs(&tbs, sig_pub, cr->address, cr->address_len, cr->device_id) != 0)
		return SOTTO_ERR_MALFORMED;
	return sign_verify(cr->signature, tbs.p, tbs.len, cr->identity_key);
}

int
mls_credential_of_leaf(const struct mls_leaf_node *ln, struct mls_sotto_credential *cr)
{
	int r;

	memset(cr, 0, sizeof(*cr));
	if (ln->credential_type != MLS_CREDENTIAL_BASIC)
		return SOTTO_ERR_UNSUPPORTED;
	if ((r = mls_credential_parse(ln->credential, ln->credential_len, cr)) != 0)
		return r;
	return mls_credential_verify(cr, ln->signature_key);
}
