/*
 * User addresses and server addresses (docs/PROTOCOL-wire.md section 1).
 */
#include "wire/address.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "base/cursor.h"

#define SERVER_SCHEME "sotto://"

static int
name_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
	    ch == '-';
}

static int
label_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-';
}

int
address_domain_check(const char *s, size_t len)
{
	size_t i, label = 0;

	if (s == NULL || len == 0 || len > ADDRESS_DOMAIN_MAX)
		return SOTTO_ERR_MALFORMED;
	for (i = 0; i <= len; i++) {
		if (i == len || s[i] == '.') {
			/* Labels are 1..63 bytes and neither start nor end with '-'. */
			if (label == 0 || label > 63 || s[i - label] == '-' || s[i - 1] == '-')
				return SOTTO_ERR_MALFORMED;
			label = 0;
		} else if (label_char(s[i])) {
			label++;
		} else {
			return SOTTO_ERR_MALFORMED;
		}
	}
	return 0;
}

int
address_user_check(const char *s, size_t len)
{
	struct cur c;
	const uint8_t *name, *domain;
	size_t i, nlen, dlen;

	if (s == NULL || len == 0 || len > ADDRESS_MAX)
		return SOTTO_ERR_MALFORMED;
	cur_init(&c, (const uint8_t *)s, len);
	if ((name = cur_take_until(&c, '@', &nlen)) == NULL || nlen == 0 ||
	    nlen > ADDRESS_NAME_MAX)
		return SOTTO_ERR_MALFORMED;
	for (i = 0; i < nlen; i++)
		if (!name_char((char)name[i]))
			return SOTTO_ERR_MALFORMED;
	(void)cur_u8(&c);       /* the '@' */
	domain = cur_rest(&c, &dlen);
	return address_domain_check((const char *)domain, dlen);
}

int
address_user_normalize(const char *in, char out[ADDRESS_MAX + 1])
{
	size_t i, n;

	out[0] = '\0';
	if (in == NULL || (n = strnlen(in, ADDRESS_MAX + 1)) > ADDRESS_MAX)
		return SOTTO_ERR_BAD_ADDRESS;
	/* Names are made of [a-z0-9._-] only, so folding the name loses nothing: no two
	 * accounts differ in case alone. */
	for (i = 0; i < n; i++)
		out[i] = in[i] >= 'A' && in[i] <= 'Z' ? (char)(in[i] - 'A' + 'a') : in[i];
	out[n] = '\0';
	if (address_user_check(out, n) != 0) {
		out[0] = '\0';
		return SOTTO_ERR_BAD_ADDRESS;
	}
	return 0;
}

static int
ipv6_literal(const char *s, size_t len)
{
	size_t i;

	/* Lowercase, with a colon: one spelling, and format() brackets it again. */
	if (len < 2 || len > 45 || memchr(s, ':', len) == NULL)
		return SOTTO_ERR_MALFORMED;
	for (i = 0; i < len; i++) {
		char ch = s[i];

		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || ch == ':' ||
		    ch == '.'))
			return SOTTO_ERR_MALFORMED;
	}
	return 0;
}

int
address_server_parse(const char *s, struct address_server *out)
{
	struct cur c;
	const uint8_t *key, *host, *digits;
	size_t slen, keylen, hostlen, n, bin_len = 0, i;
	unsigned long port = 0;
	int bracket = 0;
	char canon[sodium_base64_ENCODED_LEN(ADDRESS_SERVER_KEY_LEN,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING)];

	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return SOTTO_ERR_INVALID_ARG;
	if ((slen = strnlen(s, ADDRESS_SERVER_MAX + 1)) > ADDRESS_SERVER_MAX)
		return SOTTO_ERR_MALFORMED;
	cur_init(&c, (const uint8_t *)s, slen);
	if (!cur_starts_with(&c, SERVER_SCHEME, strlen(SERVER_SCHEME), 0))
		return SOTTO_ERR_MALFORMED;
	(void)cur_ref(&c, strlen(SERVER_SCHEME));
	if ((key = cur_take_until(&c, '@', &keylen)) == NULL)
		return SOTTO_ERR_MALFORMED;
	(void)cur_u8(&c);       /* the '@' */
	/* 32 bytes are 43 base64 characters without padding. */
	if (keylen != 43)
		return SOTTO_ERR_MALFORMED;
	if (sodium_base642bin(out->key, sizeof(out->key), (const char *)key, keylen, NULL,
	    &bin_len, NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    bin_len != sizeof(out->key))
		return SOTTO_ERR_MALFORMED;
	/* One spelling per key: the unused low bits of the last character must be zero. */
	sodium_bin2base64(canon, sizeof(canon), out->key, sizeof(out->key),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	if (memcmp(canon, key, keylen) != 0)
		return SOTTO_ERR_MALFORMED;

	if (cur_peek(&c) == '[') {
		(void)cur_u8(&c);
		if ((host = cur_take_until(&c, ']', &hostlen)) == NULL)
			return SOTTO_ERR_MALFORMED;
		(void)cur_u8(&c);
		bracket = 1;
	} else if ((host = cur_take_until(&c, ':', &hostlen)) == NULL) {
		return SOTTO_ERR_MALFORMED;
	}
	if (cur_u8(&c) != ':' || hostlen == 0 || hostlen > ADDRESS_HOST_MAX)
		return SOTTO_ERR_MALFORMED;
	if ((bracket ? ipv6_literal((const char *)host, hostlen) :
	    address_domain_check((const char *)host, hostlen)) != 0)
		return SOTTO_ERR_MALFORMED;

	/* Port: 1..65535, decimal digits only, no leading zero. */
	digits = cur_rest(&c, &n);
	if (cur_status(&c) != 0 || n == 0 || n > 5 || digits[0] == '0')
		return SOTTO_ERR_MALFORMED;
	for (i = 0; i < n; i++) {
		if (digits[i] < '0' || digits[i] > '9')
			return SOTTO_ERR_MALFORMED;
		port = port * 10 + (unsigned long)(digits[i] - '0');
	}
	if (port == 0 || port > 65535)
		return SOTTO_ERR_MALFORMED;

	memcpy(out->host, host, hostlen);
	out->host[hostlen] = '\0';
	out->port = (uint16_t)port;
	return 0;
}

int
address_server_format(const struct address_server *a, char *out, size_t cap)
{
	char key[sodium_base64_ENCODED_LEN(ADDRESS_SERVER_KEY_LEN,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
	int n, v6;

	if (a->port == 0 || a->host[0] == '\0')
		return SOTTO_ERR_INVALID_ARG;
	v6 = strchr(a->host, ':') != NULL;
	sodium_bin2base64(key, sizeof(key), a->key, sizeof(a->key),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	n = snprintf(out, cap, "%s%s@%s%s%s:%u", SERVER_SCHEME, key, v6 ? "[" : "", a->host,
	    v6 ? "]" : "", (unsigned)a->port);
	if (n < 0 || (size_t)n >= cap)
		return SOTTO_ERR_TOO_LARGE;
	return 0;
}
