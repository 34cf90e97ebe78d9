#include "sig_party.h"

#include <key_helper.h>
#include <protocol.h>
#include <session_builder.h>
#include <session_cipher.h>
#include <session_pre_key.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "sig_provider.h"

/* One stored record: keyed by an address (sessions, identities) or by an id (prekeys). */
struct kv {
	struct kv *next;
	char *name;
	size_t name_len;
	int32_t device_id;
	uint32_t id;
	uint8_t *val;           /* session records and private prekeys: secret */
	size_t len;
};

struct sig_party {
	signal_context *ctx;
	signal_protocol_store_context *store;
	signal_buffer *ik_pub;
	signal_buffer *ik_priv;         /* secret */
	uint8_t ik_pub_bytes[SIG_KEY_LEN];
	uint32_t registration_id;
	struct kv *sessions, *prekeys, *signed_prekeys, *identities;
};

static void
kv_free_one(struct kv *e)
{
	if (e->val != NULL) {
		sodium_memzero(e->val, e->len);
		free(e->val);
	}
	free(e->name);
	free(e);
}

static void
kv_free_all(struct kv **head)
{
	struct kv *e, *n;

	for (e = *head; e != NULL; e = n) {
		n = e->next;
		kv_free_one(e);
	}
	*head = NULL;
}

static struct kv **
kv_find_addr(struct kv **head, const signal_protocol_address *a)
{
	struct kv **pp;

	for (pp = head; *pp != NULL; pp = &(*pp)->next)
		if ((*pp)->device_id == a->device_id && (*pp)->name_len == a->name_len &&
		    memcmp((*pp)->name, a->name, a->name_len) == 0)
			return pp;
	return NULL;
}

static struct kv **
kv_find_id(struct kv **head, uint32_t id)
{
	struct kv **pp;

	for (pp = head; *pp != NULL; pp = &(*pp)->next)
		if ((*pp)->id == id)
			return pp;
	return NULL;
}

/* Replaces the value of *slot, or appends a new entry to head when slot is NULL. */
static int
kv_put(struct kv **head, struct kv **slot, const signal_protocol_address *a, uint32_t id,
    const uint8_t *val, size_t len)
{
	struct kv *e;
	uint8_t *copy;

	if ((copy = malloc(len ? len : 1)) == NULL)
		return SG_ERR_NOMEM;
	if (len)
		memcpy(copy, val, len);
	if (slot != NULL) {
		e = *slot;
		sodium_memzero(e->val, e->len);
		free(e->val);
		e->val = copy;
		e->len = len;
		return 0;
	}
	if ((e = calloc(1, sizeof(*e))) == NULL) {
		free(copy);
		return SG_ERR_NOMEM;
	}
	if (a != NULL) {
		if ((e->name = malloc(a->name_len + 1)) == NULL) {
			free(copy);
			free(e);
			return SG_ERR_NOMEM;
		}
		memcpy(e->name, a->name, a->name_len);
		e->name[a->name_len] = '\0';
		e->name_len = a->name_len;
		e->device_id = a->device_id;
	}
	e->id = id;
	e->val = copy;
	e->len = len;
	e->next = *head;
	*head = e;
	return 0;
}

static void
kv_remove(struct kv **slot)
{
	struct kv *e = *slot;

	*slot = e->next;
	kv_free_one(e);
}

/* Session store. */

static int
ss_load(signal_buffer **record, signal_buffer **user_record, const signal_protocol_address *a,
    void *ud)
{
	struct sig_party *p = ud;
	struct kv **e = kv_find_addr(&p->sessions, a);

	(void)user_record;
	if (e == NULL)
		return 0;
	if ((*record = signal_buffer_create((*e)->val, (*e)->len)) == NULL)
		return SG_ERR_NOMEM;
	return 1;
}

static int
ss_sub_devices(signal_int_list **sessions, const char *name, size_t name_len, void *ud)
{
	struct sig_party *p = ud;
	struct kv *e;
	signal_int_list *l;
	int n = 0;

	if ((l = signal_int_list_alloc()) == NULL)
		return SG_ERR_NOMEM;
	for (e = p->sessions; e != NULL; e = e->next)
		if (e->name_len == name_len && memcmp(e->name, name, name_len) == 0) {
			if (signal_int_list_push_back(l, e->device_id) < 0) {
				signal_int_list_free(l);
				return SG_ERR_NOMEM;
			}
			n++;
		}
	*sessions = l;
	return n;
}

static int
ss_store(const signal_protocol_address *a, uint8_t *record, size_t record_len,
    uint8_t *user_record, size_t user_record_len, void *ud)
{
	struct sig_party *p = ud;

	(void)user_record;
	(void)user_record_len;
	return kv_put(&p->sessions, kv_find_addr(&p->sessions, a), a, 0, record, record_len);
}

static int
ss_contains(const signal_protocol_address *a, void *ud)
{
	struct sig_party *p = ud;

	return kv_find_addr(&p->sessions, a) != NULL;
}

static int
ss_delete(const signal_protocol_address *a, void *ud)
{
	struct sig_party *p = ud;
	struct kv **e = kv_find_addr(&p->sessions, a);

	if (e == NULL)
		return 0;
	kv_remove(e);
	return 1;
}

static int
ss_delete_all(const char *name, size_t name_len, void *ud)
{
	struct sig_party *p = ud;
	struct kv **pp = &p->sessions;
	int n = 0;

	while (*pp != NULL) {
		if ((*pp)->name_len == name_len && memcmp((*pp)->name, name, name_len) == 0) {
			kv_remove(pp);
			n++;
		} else
			pp = &(*pp)->next;
	}
	return n;
}

/* Pre-key and signed pre-key stores: the same shape, on two lists. */

static int
id_load(struct kv **head, signal_buffer **record, uint32_t id)
{
	struct kv **e = kv_find_id(head, id);

	if (e == NULL)
		return SG_ERR_INVALID_KEY_ID;
	if ((*record = signal_buffer_create((*e)->val, (*e)->len)) == NULL)
		return SG_ERR_NOMEM;
	return SG_SUCCESS;
}

static int
id_remove(struct kv **head, uint32_t id)
{
	struct kv **e = kv_find_id(head, id);

	if (e != NULL)
		kv_remove(e);
	return 0;
}

static int
pk_load(signal_buffer **record, uint32_t id, void *ud)
{
	return id_load(&((struct sig_party *)ud)->prekeys, record, id);
}

static int
pk_store(uint32_t id, uint8_t *record, size_t len, void *ud)
{
	struct sig_party *p = ud;

	return kv_put(&p->prekeys, kv_find_id(&p->prekeys, id), NULL, id, record, len);
}

static int
pk_contains(uint32_t id, void *ud)
{
	return kv_find_id(&((struct sig_party *)ud)->prekeys, id) != NULL;
}

static int
pk_remove(uint32_t id, void *ud)
{
	return id_remove(&((struct sig_party *)ud)->prekeys, id);
}

static int
spk_load(signal_buffer **record, uint32_t id, void *ud)
{
	return id_load(&((struct sig_party *)ud)->signed_prekeys, record, id);
}

static int
spk_store(uint32_t id, uint8_t *record, size_t len, void *ud)
{
	struct sig_party *p = ud;

	return kv_put(&p->signed_prekeys, kv_find_id(&p->signed_prekeys, id), NULL, id, record,
	    len);
}

static int
spk_contains(uint32_t id, void *ud)
{
	return kv_find_id(&((struct sig_party *)ud)->signed_prekeys, id) != NULL;
}

static int
spk_remove(uint32_t id, void *ud)
{
	return id_remove(&((struct sig_party *)ud)->signed_prekeys, id);
}

/* Identity store: trust on first use, then only the same key. */

static int
ik_get_pair(signal_buffer **pub, signal_buffer **priv, void *ud)
{
	struct sig_party *p = ud;

	if ((*pub = signal_buffer_copy(p->ik_pub)) == NULL)
		return SG_ERR_NOMEM;
	if ((*priv = signal_buffer_copy(p->ik_priv)) == NULL) {
		signal_buffer_free(*pub);
		*pub = NULL;
		return SG_ERR_NOMEM;
	}
	return 0;
}

static int
ik_get_registration_id(void *ud, uint32_t *id)
{
	*id = ((struct sig_party *)ud)->registration_id;
	return 0;
}

static int
ik_save(const signal_protocol_address *a, uint8_t *key, size_t len, void *ud)
{
	struct sig_party *p = ud;
	struct kv **e = kv_find_addr(&p->identities, a);

	if (key == NULL) {
		if (e != NULL)
			kv_remove(e);
		return 0;
	}
	return kv_put(&p->identities, e, a, 0, key, len);
}

static int
ik_is_trusted(const signal_protocol_address *a, uint8_t *key, size_t len, void *ud)
{
	struct sig_party *p = ud;
	struct kv **e = kv_find_addr(&p->identities, a);

	if (e == NULL)
		return 1;
	return (*e)->len == len && memcmp((*e)->val, key, len) == 0;
}

static void
party_address(signal_protocol_address *a, const char *peer)
{
	a->name = peer;
	a->name_len = strlen(peer);
	a->device_id = SIG_DEVICE_ID;
}

static int
party_install_stores(struct sig_party *p)
{
	signal_protocol_session_store ss = {
		.load_session_func = ss_load,
		.get_sub_device_sessions_func = ss_sub_devices,
		.store_session_func = ss_store,
		.contains_session_func = ss_contains,
		.delete_session_func = ss_delete,
		.delete_all_sessions_func = ss_delete_all,
		.user_data = p,
	};
	signal_protocol_pre_key_store pk = {
		.load_pre_key = pk_load,
		.store_pre_key = pk_store,
		.contains_pre_key = pk_contains,
		.remove_pre_key = pk_remove,
		.user_data = p,
	};
	signal_protocol_signed_pre_key_store spk = {
		.load_signed_pre_key = spk_load,
		.store_signed_pre_key = spk_store,
		.contains_signed_pre_key = spk_contains,
		.remove_signed_pre_key = spk_remove,
		.user_data = p,
	};
	signal_protocol_identity_key_store ik = {
		.get_identity_key_pair = ik_get_pair,
		.get_local_registration_id = ik_get_registration_id,
		.save_identity = ik_save,
		.is_trusted_identity = ik_is_trusted,
		.user_data = p,
	};
	int r;

	if ((r = signal_protocol_store_context_create(&p->store, p->ctx)) < 0 ||
	    (r = signal_protocol_store_context_set_session_store(p->store, &ss)) < 0 ||
	    (r = signal_protocol_store_context_set_pre_key_store(p->store, &pk)) < 0 ||
	    (r = signal_protocol_store_context_set_signed_pre_key_store(p->store, &spk)) < 0 ||
	    (r = signal_protocol_store_context_set_identity_key_store(p->store, &ik)) < 0)
		return r;
	return 0;
}

static int
party_generate_keys(struct sig_party *p, unsigned int nprekeys)
{
	ratchet_identity_key_pair *ik = NULL;
	signal_protocol_key_helper_pre_key_list_node *list = NULL, *n;
	session_signed_pre_key *spk = NULL;
	int r;

	if ((r = signal_protocol_key_helper_generate_identity_key_pair(&ik, p->ctx)) < 0)
		goto out;
	if ((r = ec_public_key_serialize(&p->ik_pub,
	    ratchet_identity_key_pair_get_public(ik))) < 0 ||
	    (r = ec_private_key_serialize(&p->ik_priv,
	    ratchet_identity_key_pair_get_private(ik))) < 0)
		goto out;
	if (signal_buffer_len(p->ik_pub) != SIG_KEY_LEN) {
		r = SG_ERR_INVALID_KEY;
		goto out;
	}
	memcpy(p->ik_pub_bytes, signal_buffer_data(p->ik_pub), SIG_KEY_LEN);
	if ((r = signal_protocol_key_helper_generate_registration_id(&p->registration_id, 0,
	    p->ctx)) < 0)
		goto out;
	if (nprekeys > 0) {
		if ((r = signal_protocol_key_helper_generate_pre_keys(&list, 1, nprekeys,
		    p->ctx)) < 0)
			goto out;
		for (n = list; n != NULL; n = signal_protocol_key_helper_key_list_next(n))
			if ((r = signal_protocol_pre_key_store_key(p->store,
			    signal_protocol_key_helper_key_list_element(n))) < 0)
				goto out;
	}
	if ((r = signal_protocol_key_helper_generate_signed_pre_key(&spk, ik, 1, 1700000000000ULL,
	    p->ctx)) < 0)
		goto out;
	r = signal_protocol_signed_pre_key_store_key(p->store, spk);
out:
	if (list != NULL)
		signal_protocol_key_helper_key_list_free(list);
	if (spk != NULL)
		SIGNAL_UNREF(spk);
	if (ik != NULL)
		SIGNAL_UNREF(ik);
	return r;
}

int
sig_party_new(struct sig_party **out, unsigned int nprekeys)
{
	signal_crypto_provider prov;
	struct sig_party *p;
	int r;

	*out = NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return SG_ERR_NOMEM;
	sig_provider_init(&prov);
	if ((r = signal_context_create(&p->ctx, p)) < 0 ||
	    (r = signal_context_set_crypto_provider(p->ctx, &prov)) < 0 ||
	    (r = party_install_stores(p)) < 0 ||
	    (r = party_generate_keys(p, nprekeys)) < 0) {
		sig_party_free(p);
		return r;
	}
	*out = p;
	return 0;
}

void
sig_party_free(struct sig_party *p)
{
	if (p == NULL)
		return;
	if (p->store != NULL)
		signal_protocol_store_context_destroy(p->store);
	if (p->ctx != NULL)
		signal_context_destroy(p->ctx);
	if (p->ik_pub != NULL)
		signal_buffer_free(p->ik_pub);
	if (p->ik_priv != NULL)
		signal_buffer_bzero_free(p->ik_priv);
	kv_free_all(&p->sessions);
	kv_free_all(&p->prekeys);
	kv_free_all(&p->signed_prekeys);
	kv_free_all(&p->identities);
	free(p);
}

signal_context *
sig_party_context(struct sig_party *p)
{
	return p->ctx;
}

uint32_t
sig_party_registration_id(const struct sig_party *p)
{
	return p->registration_id;
}

const uint8_t *
sig_party_identity(const struct sig_party *p)
{
	return p->ik_pub_bytes;
}

int
sig_party_identity_private(struct sig_party *p, uint8_t out[32])
{
	if (signal_buffer_len(p->ik_priv) != 32)
		return SG_ERR_INVALID_KEY;
	memcpy(out, signal_buffer_data(p->ik_priv), 32);
	return 0;
}

static int
copy_public(uint8_t out[SIG_KEY_LEN], const ec_public_key *k)
{
	signal_buffer *b = NULL;
	int r;

	if ((r = ec_public_key_serialize(&b, k)) < 0)
		return r;
	if (signal_buffer_len(b) != SIG_KEY_LEN)
		r = SG_ERR_INVALID_KEY;
	else
		memcpy(out, signal_buffer_data(b), SIG_KEY_LEN);
	signal_buffer_free(b);
	return r;
}

int
sig_party_bundle(struct sig_party *p, struct sig_bundle *b, int with_prekey, uint32_t prekey_id)
{
	session_signed_pre_key *spk = NULL;
	session_pre_key *pk = NULL;
	int r;

	memset(b, 0, sizeof(*b));
	b->registration_id = p->registration_id;
	memcpy(b->identity_key, p->ik_pub_bytes, SIG_KEY_LEN);
	if ((r = signal_protocol_signed_pre_key_load_key(p->store, &spk, 1)) < 0)
		goto out;
	b->signed_prekey_id = session_signed_pre_key_get_id(spk);
	if ((r = copy_public(b->signed_prekey,
	    ec_key_pair_get_public(session_signed_pre_key_get_key_pair(spk)))) < 0)
		goto out;
	if (session_signed_pre_key_get_signature_len(spk) != SIG_SIG_LEN) {
		r = SG_ERR_INVALID_KEY;
		goto out;
	}
	memcpy(b->signed_prekey_sig, session_signed_pre_key_get_signature(spk), SIG_SIG_LEN);
	if (with_prekey) {
		if ((r = signal_protocol_pre_key_load_key(p->store, &pk, prekey_id)) < 0)
			goto out;
		b->has_prekey = 1;
		b->prekey_id = prekey_id;
		if ((r = copy_public(b->prekey,
		    ec_key_pair_get_public(session_pre_key_get_key_pair(pk)))) < 0)
			goto out;
	}
	r = 0;
out:
	if (spk != NULL)
		SIGNAL_UNREF(spk);
	if (pk != NULL)
		SIGNAL_UNREF(pk);
	return r;
}

int
sig_party_has_prekey(struct sig_party *p, uint32_t id)
{
	return kv_find_id(&p->prekeys, id) != NULL;
}

int
sig_party_process_bundle(struct sig_party *p, const char *peer, const struct sig_bundle *b)
{
	ec_public_key *ik = NULL, *spk = NULL, *pk = NULL;
	session_pre_key_bundle *bundle = NULL;
	session_builder *builder = NULL;
	signal_protocol_address addr;
	int r;

	party_address(&addr, peer);
	if ((r = curve_decode_point(&ik, b->identity_key, SIG_KEY_LEN, p->ctx)) < 0 ||
	    (r = curve_decode_point(&spk, b->signed_prekey, SIG_KEY_LEN, p->ctx)) < 0)
		goto out;
	if (b->has_prekey &&
	    (r = curve_decode_point(&pk, b->prekey, SIG_KEY_LEN, p->ctx)) < 0)
		goto out;
	if ((r = session_pre_key_bundle_create(&bundle, b->registration_id, SIG_DEVICE_ID,
	    b->has_prekey ? b->prekey_id : 0, pk, b->signed_prekey_id, spk,
	    b->signed_prekey_sig, SIG_SIG_LEN, ik)) < 0)
		goto out;
	if ((r = session_builder_create(&builder, p->store, &addr, p->ctx)) < 0)
		goto out;
	r = session_builder_process_pre_key_bundle(builder, bundle);
out:
	if (builder != NULL)
		session_builder_free(builder);
	if (bundle != NULL)
		SIGNAL_UNREF(bundle);
	if (ik != NULL)
		SIGNAL_UNREF(ik);
	if (spk != NULL)
		SIGNAL_UNREF(spk);
	if (pk != NULL)
		SIGNAL_UNREF(pk);
	return r;
}

static int
copy_out(const signal_buffer *b, uint8_t **out, size_t *out_len)
{
	size_t n = signal_buffer_len(b);

	if ((*out = malloc(n ? n : 1)) == NULL)
		return SG_ERR_NOMEM;
	if (n)
		memcpy(*out, signal_buffer_const_data(b), n);
	*out_len = n;
	return 0;
}

int
sig_party_encrypt(struct sig_party *p, const char *peer, const uint8_t *pt, size_t pt_len,
    uint8_t **out, size_t *out_len, int *is_prekey)
{
	session_cipher *cipher = NULL;
	ciphertext_message *msg = NULL;
	signal_protocol_address addr;
	int r;

	*out = NULL;
	*out_len = 0;
	party_address(&addr, peer);
	if ((r = session_cipher_create(&cipher, p->store, &addr, p->ctx)) < 0)
		goto out;
	if ((r = session_cipher_encrypt(cipher, pt, pt_len, &msg)) < 0)
		goto out;
	*is_prekey = ciphertext_message_get_type(msg) == CIPHERTEXT_PREKEY_TYPE;
	r = copy_out(ciphertext_message_get_serialized(msg), out, out_len);
out:
	if (msg != NULL)
		SIGNAL_UNREF(msg);
	if (cipher != NULL)
		session_cipher_free(cipher);
	return r;
}

int
sig_party_decrypt(struct sig_party *p, const char *peer, int is_prekey, const uint8_t *ct,
    size_t ct_len, uint8_t **pt, size_t *pt_len)
{
	session_cipher *cipher = NULL;
	pre_key_signal_message *pkm = NULL;
	signal_message *m = NULL;
	signal_buffer *plain = NULL;
	signal_protocol_address addr;
	int r;

	*pt = NULL;
	*pt_len = 0;
	party_address(&addr, peer);
	if ((r = session_cipher_create(&cipher, p->store, &addr, p->ctx)) < 0)
		goto out;
	if (is_prekey) {
		if ((r = pre_key_signal_message_deserialize(&pkm, ct, ct_len, p->ctx)) < 0)
			goto out;
		r = session_cipher_decrypt_pre_key_signal_message(cipher, pkm, NULL, &plain);
	} else {
		if ((r = signal_message_deserialize(&m, ct, ct_len, p->ctx)) < 0)
			goto out;
		r = session_cipher_decrypt_signal_message(cipher, m, NULL, &plain);
	}
	if (r < 0)
		goto out;
	r = copy_out(plain, pt, pt_len);
out:
	if (plain != NULL)
		signal_buffer_bzero_free(plain);
	if (pkm != NULL)
		SIGNAL_UNREF(pkm);
	if (m != NULL)
		SIGNAL_UNREF(m);
	if (cipher != NULL)
		session_cipher_free(cipher);
	return r;
}

int
sig_party_session_record(struct sig_party *p, const char *peer, uint8_t **out, size_t *out_len)
{
	signal_protocol_address addr;
	struct kv **e;

	party_address(&addr, peer);
	if ((e = kv_find_addr(&p->sessions, &addr)) == NULL)
		return SG_ERR_NO_SESSION;
	if ((*out = malloc((*e)->len ? (*e)->len : 1)) == NULL)
		return SG_ERR_NOMEM;
	memcpy(*out, (*e)->val, (*e)->len);
	*out_len = (*e)->len;
	return 0;
}

int
sig_party_has_session(struct sig_party *p, const char *peer)
{
	signal_protocol_address addr;

	party_address(&addr, peer);
	return kv_find_addr(&p->sessions, &addr) != NULL;
}
