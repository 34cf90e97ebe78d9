/*
 * A group's mail address (docs/PROTOCOL.md 14.5): "group+" ID "@" DOMAIN, ID the group id
 * in lower case hex. A user name is made of [a-z0-9._-] only (wire/address.h), so no
 * account can hold an address with a '+', and the id, unlike the group's name, never
 * changes.
 */
#include <string.h>

#include "base/cursor.h"
#include "sotto/group.h"
#include "wire/address.h"

static int
hex_digit(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static char
lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Lower-cases n bytes of in into out (NUL-terminated). */
static void
lower_copy(char *out, const uint8_t *in, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		out[i] = lower((char)in[i]);
	out[n] = '\0';
}

/* 0 if id (n bytes, lower case) is the hex of a group id that fits a local part. */
static int
id_ok(const char *id, size_t n)
{
	size_t i;

	if (n == 0 || n % 2 != 0 || n > SOTTO_GROUP_ADDRESS_ID_HEX)
		return SOTTO_ERR_MALFORMED;
	for (i = 0; i < n; i++)
		if (!hex_digit(id[i]))
			return SOTTO_ERR_MALFORMED;
	return 0;
}

int
sotto_group_address(const char *id_hex, const char *domain, char out[SOTTO_ADDRESS_MAX + 1])
{
	char id[SOTTO_GROUP_ADDRESS_ID_HEX + 1], dom[ADDRESS_DOMAIN_MAX + 1];
	size_t n, dn, pl = strlen(SOTTO_GROUP_ADDRESS_LOCAL);

	out[0] = '\0';
	if (id_hex == NULL || domain == NULL ||
	    (n = strnlen(id_hex, SOTTO_GROUP_ADDRESS_ID_HEX + 1)) > SOTTO_GROUP_ADDRESS_ID_HEX ||
	    (dn = strnlen(domain, ADDRESS_DOMAIN_MAX + 1)) > ADDRESS_DOMAIN_MAX)
		return SOTTO_ERR_INVALID_ARG;
	lower_copy(id, (const uint8_t *)id_hex, n);
	lower_copy(dom, (const uint8_t *)domain, dn);
	if (id_ok(id, n) != 0 || address_domain_check(dom, dn) != 0)
		return SOTTO_ERR_INVALID_ARG;
	memcpy(out, SOTTO_GROUP_ADDRESS_LOCAL, pl);
	memcpy(out + pl, id, n);
	out[pl + n] = '@';
	memcpy(out + pl + n + 1, dom, dn + 1);
	return 0;
}

int
sotto_group_address_parse(const char *addr, char id_hex[2 * SOTTO_GROUP_ID_MAX + 1],
    char domain[SOTTO_ADDRESS_MAX + 1])
{
	char local[SOTTO_ADDRESS_MAX + 1];
	size_t len, ln, dn, pl = strlen(SOTTO_GROUP_ADDRESS_LOCAL);
	const uint8_t *l, *d;
	struct cur c;

	id_hex[0] = domain[0] = '\0';
	if (addr == NULL || (len = strnlen(addr, SOTTO_ADDRESS_MAX + 1)) > SOTTO_ADDRESS_MAX)
		return SOTTO_ERR_MALFORMED;
	cur_init(&c, (const uint8_t *)addr, len);
	if ((l = cur_take_until(&c, '@', &ln)) == NULL || ln <= pl)
		return SOTTO_ERR_MALFORMED;
	(void)cur_u8(&c);       /* the '@' */
	d = cur_rest(&c, &dn);
	if (cur_status(&c) != 0 || d == NULL || dn == 0 || dn > ADDRESS_DOMAIN_MAX)
		return SOTTO_ERR_MALFORMED;
	lower_copy(local, l, ln);
	lower_copy(domain, d, dn);
	if (memcmp(local, SOTTO_GROUP_ADDRESS_LOCAL, pl) != 0 ||
	    id_ok(local + pl, ln - pl) != 0 || address_domain_check(domain, dn) != 0) {
		domain[0] = '\0';
		return SOTTO_ERR_MALFORMED;
	}
	memcpy(id_hex, local + pl, ln - pl + 1);
	return 0;
}
