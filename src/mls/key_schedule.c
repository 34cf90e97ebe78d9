#include "mls/key_schedule.h"

#include <string.h>
#include <sodium.h>

#include "mls/crypto.h"
#include "mls/hpke.h"

/* member = Extract(joiner_secret, psk_secret). SECRET. */
static void
member_secret(uint8_t member[static MLS_HASH_LEN], const uint8_t joiner_secret[static MLS_HASH_LEN],
    const uint8_t psk_secret[static MLS_HASH_LEN])
{
	mls_kdf_extract(member, joiner_secret, MLS_HASH_LEN, psk_secret, MLS_HASH_LEN);
}

int
mls_welcome_secret(uint8_t out[static MLS_HASH_LEN], const uint8_t joiner_secret[static MLS_HASH_LEN],
    const uint8_t psk_secret[static MLS_HASH_LEN])
{
	uint8_t member[MLS_HASH_LEN];   /* SECRET */
	int r;

	member_secret(member, joiner_secret, psk_secret);
	r = mls_derive_secret(out, member, "welcome");
	sodium_memzero(member, sizeof(member));
	return r;
}

int
mls_key_schedule_join(struct mls_epoch_secrets *out,
    const uint8_t joiner_secret[static MLS_HASH_LEN], const uint8_t psk_secret[static MLS_HASH_LEN],
    const uint8_t *group_context, size_t group_context_len)
{
	uint8_t member[MLS_HASH_LEN], epoch[MLS_HASH_LEN];   /* SECRET */
	int r;

	memmove(out->joiner_secret, joiner_secret, MLS_HASH_LEN);
	member_secret(member, out->joiner_secret, psk_secret);
	if ((r = mls_derive_secret(out->welcome_secret, member, "welcome")) != 0 ||
	    (r = mls_expand_with_label(epoch, MLS_HASH_LEN, member, "epoch", group_context,
	    group_context_len)) != 0 ||
	    (r = mls_derive_secret(out->sender_data_secret, epoch, "sender data")) != 0 ||
	    (r = mls_derive_secret(out->encryption_secret, epoch, "encryption")) != 0 ||
	    (r = mls_derive_secret(out->exporter_secret, epoch, "exporter")) != 0 ||
	    (r = mls_derive_secret(out->external_secret, epoch, "external")) != 0 ||
	    (r = mls_derive_secret(out->confirmation_key, epoch, "confirm")) != 0 ||
	    (r = mls_derive_secret(out->membership_key, epoch, "membership")) != 0 ||
	    (r = mls_derive_secret(out->resumption_psk, epoch, "resumption")) != 0 ||
	    (r = mls_derive_secret(out->epoch_authenticator, epoch, "authentication")) != 0 ||
	    (r = mls_derive_secret(out->init_secret, epoch, "init")) != 0)
		mls_epoch_secrets_wipe(out);
	sodium_memzero(member, sizeof(member));
	sodium_memzero(epoch, sizeof(epoch));
	return r;
}

int
mls_key_schedule_advance(struct mls_epoch_secrets *out,
    const uint8_t init_secret[static MLS_HASH_LEN], const uint8_t commit_secret[static MLS_HASH_LEN],
    const uint8_t psk_secret[static MLS_HASH_LEN], const uint8_t *group_context,
    size_t group_context_len)
{
	uint8_t prk[MLS_HASH_LEN], joiner[MLS_HASH_LEN];   /* SECRET */
	int r;

	mls_kdf_extract(prk, init_secret, MLS_HASH_LEN, commit_secret, MLS_HASH_LEN);
	if ((r = mls_expand_with_label(joiner, MLS_HASH_LEN, prk, "joiner", group_context,
	    group_context_len)) == 0)
		r = mls_key_schedule_join(out, joiner, psk_secret, group_context, group_context_len);
	sodium_memzero(prk, sizeof(prk));
	sodium_memzero(joiner, sizeof(joiner));
	return r;
}

void
mls_epoch_secrets_wipe(struct mls_epoch_secrets *s)
{
	sodium_memzero(s, sizeof(*s));
}

int
mls_exporter(uint8_t *out, size_t out_len, const uint8_t exporter_secret[static MLS_HASH_LEN],
    const uint8_t *label, size_t label_len, const uint8_t *context, size_t context_len)
{
	uint8_t derived[MLS_HASH_LEN], context_hash[MLS_HASH_LEN];   /* derived is SECRET */
	int r;

	mls_hash(context_hash, context, context_len);
	if ((r = mls_expand_with_label_raw(derived, MLS_HASH_LEN, exporter_secret, label,
	    label_len, NULL, 0)) == 0)
		r = mls_expand_with_label(out, out_len, derived, "exported", context_hash,
		    sizeof(context_hash));
	sodium_memzero(derived, sizeof(derived));
	return r;
}

int
mls_external_keypair(uint8_t pub[static MLS_KEM_PUBLIC_LEN], uint8_t sec[static MLS_KEM_SECRET_LEN],
    const uint8_t external_secret[static MLS_HASH_LEN])
{
	return mls_hpke_derive_keypair(pub, sec, external_secret, MLS_HASH_LEN);
}
