/*
 * sottod's storage quotas against a real server: per mailbox (count and bytes) and
 * idempotency records that end with their envelope (docs/SERVER.md, "Quotas"). There is
 * no quota per sending account: it needed every envelope to name its sender (issue 15).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "sottod_proc.h"

#define BIG 60000

/* This program's client message ids. */
static void
cmid_of(uint8_t cmid[16], int i)
{
	sottod_proc_cmid(cmid, i, 0x9c);
}

/*
 * One sender fills bob's mailbox (1 MiB): MAILBOX_FULL, while every other mailbox and
 * sender is served; once bob has fetched his mail, alice can send to him again.
 */
TEST(full_mailbox_refuses_its_senders_and_serves_the_others)
{
	struct sottod_proc sp;
	struct test_user a, b, c, d;
	static uint8_t big[BIG];
	uint8_t cmid[16];
	int ok = 0, r = 0, i;

	REQUIRE(sottod_proc_launch(&sp, "registration = open\nmailbox_max_mib = 1") == 0);
	REQUIRE(test_user_join(&a, &sp, "alice") == 0);
	REQUIRE(test_user_join(&b, &sp, "bob") == 0);
	REQUIRE(test_user_join(&c, &sp, "carol") == 0);
	REQUIRE(test_user_join(&d, &sp, "dave") == 0);
	test_user_close(&b);
	test_user_close(&d);
	memset(big, 'q', sizeof(big));
	for (i = 0; i < 40 && (r = test_user_send(&a, "bob@localhost", (cmid_of(cmid, i), cmid),
	    big, sizeof(big))) == 0; i++)
		ok++;
	CHECK_EQ_INT(r, SOTTO_ERR_MAILBOX_FULL);
	CHECK_EQ_INT(ok, (1 << 20) / BIG);
	/* A retry of a stored SEND is still answered as stored. */
	cmid_of(cmid, 0);
	CHECK_EQ_INT(test_user_send(&a, "bob@localhost", cmid, big, sizeof(big)), 0);
	/* Another sender to the full mailbox is refused too; other mailboxes are served. */
	cmid_of(cmid, 500);
	CHECK_EQ_INT(test_user_send(&c, "bob@localhost", cmid, big, sizeof(big)),
	    SOTTO_ERR_MAILBOX_FULL);
	cmid_of(cmid, 501);
	CHECK_EQ_INT(test_user_send(&c, "dave@localhost", cmid, big, sizeof(big)), 0);
	cmid_of(cmid, 502);
	CHECK_EQ_INT(test_user_send(&a, "dave@localhost", cmid, "y", 1), 0);
	CHECK_EQ_INT(test_user_cert(&c), 0);
	REQUIRE(test_user_connect(&d, &sp) == 0);
	CHECK_EQ_INT(test_user_drain(&d, 2, 5000), 2);
	/* Bob fetches his mailbox: room again. */
	REQUIRE(test_user_connect(&b, &sp) == 0);
	CHECK_EQ_INT(test_user_drain(&b, ok, 5000), ok);
	cmid_of(cmid, 600);
	CHECK_EQ_INT(test_user_send(&a, "bob@localhost", cmid, big, sizeof(big)), 0);
	test_user_close(&a);
	test_user_close(&b);
	test_user_close(&c);
	test_user_close(&d);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

/*
 * The idempotency record of a SEND lives as long as its envelope: a retry before the
 * recipient fetched it is stored once, and the recipient's RECEIVED deletes the record
 * with the envelope. A SEND its recipient RECEIVED before the commit leaves none.
 */
TEST(sent_record_ends_when_the_recipient_acknowledges)
{
	struct sottod_proc sp;
	struct test_user a, b;
	uint8_t cmid[16];

	REQUIRE(sottod_proc_launch(&sp, "registration = open") == 0);
	REQUIRE(test_user_join(&a, &sp, "alice") == 0);
	REQUIRE(test_user_join(&b, &sp, "bob") == 0);
	test_user_close(&b);
	cmid_of(cmid, 1);
	CHECK_EQ_INT(test_user_send(&a, "bob@localhost", cmid, "once", 4), 0);
	CHECK_EQ_INT(test_user_send(&a, "bob@localhost", cmid, "once", 4), 0);
	cmid_of(cmid, 2);
	CHECK_EQ_INT(test_user_send(&a, "bob@localhost", cmid, "twice", 5), 0);
	test_user_close(&a);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	CHECK_EQ_INT(sottod_proc_db_int(&sp, "SELECT count(*) FROM sent"), 2);
	REQUIRE(sottod_proc_start(&sp) == 0);
	REQUIRE(test_user_connect(&b, &sp) == 0);
	/* Two envelopes, the retry stored once; RECEIVED is answered after its commit. */
	CHECK_EQ_INT(test_user_drain(&b, 3, 1000), 2);
	/* Online and caught up: this one is RECEIVED before (or after) its commit. */
	REQUIRE(test_user_connect(&a, &sp) == 0);
	cmid_of(cmid, 3);
	CHECK_EQ_INT(test_user_send(&a, "bob@localhost", cmid, "live", 4), 0);
	CHECK_EQ_INT(test_user_drain(&b, 1, 5000), 1);
	test_user_close(&a);
	test_user_close(&b);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	CHECK_EQ_INT(sottod_proc_db_int(&sp, "SELECT count(*) FROM sent"), 0);
	sottod_proc_cleanup(&sp);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	SOTTOD_RUN_BOTH(full_mailbox_refuses_its_senders_and_serves_the_others);
	SOTTOD_RUN_BOTH(sent_record_ends_when_the_recipient_acknowledges);
	return check_summary();
}
