/*
 * The resumption ticket (client/conn.h) kept in the encrypted store between processes, so
 * that the next CLI command resumes too. Setting "resume_ticket" (sealed by the store):
 *   u8 version (1) || server key (32) || device tag (32) || u64 expiry || psk (32, SECRET)
 *   || ticket (TICKET_LEN)
 */
#include "client/client_int.h"

#include <string.h>

#include <sodium.h>

#include "base/buf.h"
#include "base/cursor.h"
#include "client/conn.h"

#define TICKET_SETTING "resume_ticket"
#define TICKET_SETTING_LEN (1 + 32 + 32 + 8 + TICKET_PSK_LEN + TICKET_LEN)

int
client_ticket_load(struct sotto *s)
{
	uint8_t *v = NULL;
	size_t len = 0;
	struct cur c;
	int r;

	if (s->ticket == NULL || s->ticket->valid || s->st == NULL)
		return 0;
	if ((r = store_setting_get(s->st, TICKET_SETTING, &v, &len)) != 0)
		return r == SOTTO_ERR_NOT_FOUND ? 0 : r;
	cur_init(&c, v, len);
	if (cur_u8(&c) != 1)
		cur_fail(&c, SOTTO_ERR_BAD_VERSION);
	cur_copy(&c, s->ticket->server_pk, 32);
	cur_copy(&c, s->ticket->device_tag, 32);
	s->ticket->expiry = cur_u64(&c);
	cur_copy(&c, s->ticket->psk, TICKET_PSK_LEN);
	cur_copy(&c, s->ticket->ticket, TICKET_LEN);
	if ((r = cur_finish(&c)) == 0)
		s->ticket->valid = 1;
	else
		conn_ticket_wipe(s->ticket);
	store_blob_free(v, len);
	/* A bad record only costs a full login. */
	return 0;
}

int
client_ticket_save(struct sotto *s)
{
	uint8_t mem[TICKET_SETTING_LEN];
	struct buf b;
	int r;

	if (s->ticket == NULL || s->st == NULL)
		return 0;
	if (!s->ticket->valid) {
		r = store_setting_delete(s->st, TICKET_SETTING);
		return r == SOTTO_ERR_NOT_FOUND ? 0 : r;
	}
	buf_init_fixed(&b, mem, sizeof(mem));
	buf_u8(&b, 1);
	buf_put(&b, s->ticket->server_pk, 32);
	buf_put(&b, s->ticket->device_tag, 32);
	buf_u64(&b, s->ticket->expiry);
	buf_put(&b, s->ticket->psk, TICKET_PSK_LEN);
	buf_put(&b, s->ticket->ticket, TICKET_LEN);
	if ((r = buf_status(&b)) == 0)
		r = store_setting_put(s->st, TICKET_SETTING, b.p, b.len);
	sodium_memzero(mem, sizeof(mem));
	return r;
}

/*
 * The login generation (docs/PROTOCOL-wire.md, LOGIN): setting "login_generation",
 * u8 version (1) || u64 generation. A copy of the store carries it too; the server tells
 * the copies apart by which one comes back with a generation it has since revoked.
 */
#define LOGIN_GEN_SETTING "login_generation"
#define LOGIN_GEN_SETTING_LEN (1 + 8)

int
client_login_gen_load(struct sotto *s, uint64_t *gen)
{
	uint8_t *v = NULL;
	size_t len = 0;
	struct cur c;
	int r;

	*gen = 0;
	if ((r = store_setting_get(s->st, LOGIN_GEN_SETTING, &v, &len)) != 0)
		return r == SOTTO_ERR_NOT_FOUND ? 0 : r;
	cur_init(&c, v, len);
	if (cur_u8(&c) != 1)
		cur_fail(&c, SOTTO_ERR_BAD_VERSION);
	*gen = cur_u64(&c);
	if ((r = cur_finish(&c)) != 0)
		*gen = 0;
	store_blob_free(v, len);
	return r;
}

int
client_login_gen_save(struct sotto *s, uint64_t gen)
{
	uint8_t mem[LOGIN_GEN_SETTING_LEN];
	struct buf b;
	int r;

	buf_init_fixed(&b, mem, sizeof(mem));
	buf_u8(&b, 1);
	buf_u64(&b, gen);
	if ((r = buf_status(&b)) == 0)
		r = store_setting_put(s->st, LOGIN_GEN_SETTING, b.p, b.len);
	return r;
}
