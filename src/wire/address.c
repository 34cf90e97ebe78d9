/*
 * User addresses and server addresses (docs/PROTOCOL-wire.md section 1).
 */
#include "wire/address.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

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
	const char *at;
	size_t i, name;

	if (s == NULL || len == 0 || len > ADDRESS_MAX)
		return SOTTO_ERR_MALFORMED;
	if ((at = memchr(s, '@', len)) == NULL)
		return SOTTO_ERR_MALFORMED;
	name = (size_t)(at - s);
	if (name == 0 || name > ADDRESS_NAME_MAX)
		return SOTTO_ERR_MALFORMED;
	for (i = 0; i < name; i++)
		if (!name_char(s[i]))
			return SOTTO_ERR_MALFORMED;
	return address_domain_check(at + 1, len - name - 1);
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
	const char *p, *at, *host, *colon, *end;
	size_t keylen, hostlen, bin_len = 0, i;
	unsigned long port = 0;
	int bracket = 0;
	char canon[sodium_base64_ENCODED_LEN(ADDRESS_SERVER_KEY_LEN,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING)];

	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return SOTTO_ERR_INVALID_ARG;
	end = s + strnlen(s, ADDRESS_SERVER_MAX + 1);
	if (*end != '\0' || strncmp(s, SERVER_SCHEME, strlen(SERVER_SCHEME)) != 0)
		return SOTTO_ERR_MALFORMED;
	p = s + strlen(SERVER_SCHEME);
	if ((at = memchr(p, '@', (size_t)(end - p))) == NULL)
		return SOTTO_ERR_MALFORMED;
	keylen = (size_t)(at - p);
	/* 32 bytes are 43 base64 characters without padding. */
	if (keylen != 43)
		return SOTTO_ERR_MALFORMED;
	if (sodium_base642bin(out->key, sizeof(out->key), p, keylen, NULL, &bin_len, NULL,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 || bin_len != sizeof(out->key))
		return SOTTO_ERR_MALFORMED;
	/* One spelling per key: the unused low bits of the last character must be zero. */
	sodium_bin2base64(canon, sizeof(canon), out->key, sizeof(out->key),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	if (memcmp(canon, p, keylen) != 0)
		return SOTTO_ERR_MALFORMED;

	host = at + 1;
	if (*host == '[') {
		const char *close = memchr(host, ']', (size_t)(end - host));

		if (close == NULL || close[1] != ':')
			return SOTTO_ERR_MALFORMED;
		host++;
		hostlen = (size_t)(close - host);
		colon = close + 1;
		bracket = 1;
	} else {
		if ((colon = memchr(host, ':', (size_t)(end - host))) == NULL)
			return SOTTO_ERR_MALFORMED;
		hostlen = (size_t)(colon - host);
	}
	if (hostlen == 0 || hostlen > ADDRESS_HOST_MAX)
		return SOTTO_ERR_MALFORMED;
	if ((bracket ? ipv6_literal(host, hostlen) : address_domain_check(host, hostlen)) != 0)
		return SOTTO_ERR_MALFORMED;

	/* Port: 1..65535, decimal digits only, no leading zero. */
	p = colon + 1;
	if (p == end || end - p > 5 || *p == '0')
		return SOTTO_ERR_MALFORMED;
	for (i = 0; p + i < end; i++) {
		if (p[i] < '0' || p[i] > '9')
			return SOTTO_ERR_MALFORMED;
		port = port * 10 + (unsigned long)(p[i] - '0');
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
