/*
 * Addresses (docs/PROTOCOL-wire.md section 1).
 *   user:   name@domain; name 1..64 of [a-z0-9._-]; domain a lowercase host name (labels of
 *           [a-z0-9-], 1..63 bytes, no leading or trailing '-'), at most 253 bytes; the
 *           whole address at most 320 bytes. On the wire and in stores an address has one
 *           spelling, all lower case; what a user types is folded to it first
 *           (address_user_normalize): both parts are case-insensitive.
 *   server: sotto://<base64url, no padding, of the 32-byte Ed25519 key>@host:port, where
 *           host is a host name, an IPv4 literal or a bracketed IPv6 literal, and port 1..65535.
 */
#ifndef SOTTO_WIRE_ADDRESS_H
#define SOTTO_WIRE_ADDRESS_H

#include <stddef.h>
#include <stdint.h>

#include "sotto/error.h"
#include "sotto/limits.h"

#define ADDRESS_NAME_MAX 64
#define ADDRESS_DOMAIN_MAX 253
#define ADDRESS_MAX SOTTO_ADDRESS_MAX
#define ADDRESS_HOST_MAX 253
#define ADDRESS_SERVER_KEY_LEN 32
#define ADDRESS_SERVER_MAX SOTTO_SERVER_ADDRESS_MAX

/* 0 if s[0..len) is a valid user address, else SOTTO_ERR_MALFORMED. */
int address_user_check(const char *s, size_t len) SOTTO_MUST_CHECK;
/* Copies the address a user typed into out in its one spelling (ASCII letters folded to
 * lower case in the name and the domain) and checks it: 0, or SOTTO_ERR_BAD_ADDRESS. */
int address_user_normalize(const char *in, char out[ADDRESS_MAX + 1]) SOTTO_MUST_CHECK;
/* 0 if s[0..len) is a valid domain, else SOTTO_ERR_MALFORMED. */
int address_domain_check(const char *s, size_t len) SOTTO_MUST_CHECK;

struct address_server {
	uint8_t key[ADDRESS_SERVER_KEY_LEN];    /* the server's Ed25519 public key */
	char host[ADDRESS_HOST_MAX + 1];        /* without brackets */
	uint16_t port;
};

int address_server_parse(const char *s, struct address_server *out) SOTTO_MUST_CHECK;
/* Writes the NUL-terminated address into out (cap bytes). */
int address_server_format(const struct address_server *a, char *out, size_t cap) SOTTO_MUST_CHECK;

#endif
