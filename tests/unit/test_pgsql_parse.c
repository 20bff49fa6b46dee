// SPDX-License-Identifier: MIT
/* The PostgreSQL pieces the BPF programs run (pgsql_parse.h), and the title
 * and SQLSTATE helpers of user/pgsql.c. */
#include <stdbool.h>
#include <string.h>
#include "check.h"
#include "pgsql_parse.h"

bool pgsql__title_database(const char *title, char *db, size_t dbsz);
void pgsql__sqlstate_unpack(__u32 v, char out[6]);

static struct pg_hasher hash_of(const char *sql)
{
	static char text[PG_TEXT_LEN];
	struct pg_hasher h;

	memset(text, 0, sizeof(text));
	strncpy(text, sql, sizeof(text) - 1);
	pg_hash_text(text, strlen(text), &h);
	return h;
}

/* FNV-1a of an already normalized text, written out plainly: what the
 * hasher must give for a text that normalizes to it. */
static __u64 fnv1a(const char *norm)
{
	__u64 h = PG_FNV_OFFSET;

	for (; *norm; norm++)
		h = (h ^ (unsigned char)*norm) * PG_FNV_PRIME;
	return h;
}

static __u16 op_of_text(const char *sql)
{
	return pg_word_op(hash_of(sql).word);
}

static __u16 op_of_tag(const char *tag)
{
	return pg_tag_op(tag, strlen(tag) + 1);
}

int main(void)
{
	char db[PG_DB_LEN], code[6];
	__u32 packed;

	/* Command tags, as the server sends them in CommandComplete. */
	CHECK(op_of_tag("SELECT 1") == PG_OP_SELECT, "SELECT n");
	CHECK(op_of_tag("INSERT 0 1") == PG_OP_INSERT, "INSERT oid n");
	CHECK(op_of_tag("UPDATE 3") == PG_OP_UPDATE, "UPDATE n");
	CHECK(op_of_tag("DELETE 0") == PG_OP_DELETE, "DELETE n");
	CHECK(op_of_tag("COPY 100000") == PG_OP_COPY, "COPY n");
	CHECK(op_of_tag("BEGIN") == PG_OP_BEGIN, "BEGIN");
	CHECK(op_of_tag("START TRANSACTION") == PG_OP_BEGIN, "START TRANSACTION is a BEGIN");
	CHECK(op_of_tag("COMMIT") == PG_OP_COMMIT, "COMMIT (also the tag of END)");
	CHECK(op_of_tag("ROLLBACK") == PG_OP_ROLLBACK, "ROLLBACK: 8 letters, the word limit");
	CHECK(op_of_tag("CREATE TABLE") == PG_OP_CREATE, "CREATE TABLE");
	CHECK(op_of_tag("TRUNCATE TABLE") == PG_OP_TRUNCATE, "TRUNCATE");
	CHECK(op_of_tag("SAVEPOINT") == PG_OP_OTHER, "9 letters: OTHER, not a prefix match");
	CHECK(op_of_tag("ROLLBACKX") == PG_OP_OTHER, "a known word plus a letter is not known");
	CHECK(op_of_tag("") == PG_OP_OTHER, "empty tag");
	CHECK(op_of_tag("select 1") == PG_OP_OTHER, "tags are upper case; lower case is OTHER");
	CHECK(pg_tag_op("SELECT 1", 3) == PG_OP_OTHER, "a tag cut short is not SELECT");

	/* The first word of a statement's text gives the operation of a failure. */
	CHECK(op_of_text("select 1/0") == PG_OP_SELECT, "lower case text");
	CHECK(op_of_text("  \n\tINSERT INTO t VALUES (1)") == PG_OP_INSERT, "leading whitespace");
	CHECK(op_of_text("end") == PG_OP_COMMIT, "END is a COMMIT");
	CHECK(op_of_text("abort") == PG_OP_ROLLBACK, "ABORT is a ROLLBACK");
	CHECK(op_of_text("(select 1)") == PG_OP_OTHER, "a parenthesis first: OTHER");
	CHECK(op_of_text("selectx 1") == PG_OP_OTHER, "an unknown word: OTHER");
	CHECK(op_of_text("WITH x AS (SELECT 1) SELECT * FROM x") == PG_OP_OTHER, "WITH: OTHER");
	CHECK(op_of_text("") == PG_OP_OTHER, "empty text");
	CHECK(op_of_text("SELECT\n1") == PG_OP_SELECT, "a newline ends the word");

	/* The hash leaves literals out and nothing else. */
	CHECK(hash_of("SELECT * FROM t WHERE id = 1").hash ==
		  hash_of("SELECT * FROM t WHERE id = 42").hash,
	      "numbers do not change the hash");
	CHECK(hash_of("SELECT * FROM t WHERE name = 'hunter2'").hash ==
		  hash_of("SELECT * FROM t WHERE name = 'x'").hash,
	      "strings do not change the hash");
	CHECK(hash_of("SELECT 'it''s'").hash == hash_of("SELECT 'a''b'").hash,
	      "doubled quotes inside strings");
	CHECK(hash_of("SELECT 1.5e3").hash == hash_of("SELECT 2").hash, "decimals and exponents");
	CHECK(hash_of("select  *\n from t").hash == hash_of("SELECT * FROM t").hash,
	      "case and whitespace runs do not change the hash");
	CHECK(hash_of("SELECT * FROM t1").hash != hash_of("SELECT * FROM t2").hash,
	      "digits inside identifiers do change it");
	CHECK(hash_of("SELECT * FROM t").hash != hash_of("SELECT * FROM u").hash,
	      "other tables, other hash");
	CHECK(hash_of("SELECT $1").hash == hash_of("SELECT $2").hash, "parameters");
	CHECK(hash_of("SELECT 1").hash != 0 && hash_of("").hash != 0, "0 is kept for unknown");
	/* Exact values over texts longer than the bytes one bpf_loop step takes
	 * (PG_HASH_BYTES), with a literal, a string and a whitespace run across
	 * its seams: every byte is hashed, in order. */
	CHECK(hash_of("SELECT abalance FROM pgbench_accounts WHERE aid = 12345;").hash ==
		  fnv1a("select abalance from pgbench_accounts where aid = ?;"),
	      "pgbench's SELECT: the normalized text's FNV-1a");
	CHECK(hash_of("UPDATE t SET note = 'a string across the seam' ,  x=7 WHERE k   =  'b'")
		      .hash == fnv1a("update t set note = ? , x=? where k = ?"),
	      "strings, numbers and blank runs across step seams");
	CHECK(hash_of("select 123456789012345678901234567890 from t").hash ==
		  fnv1a("select ? from t"),
	      "a number longer than a step");

	/* SQLSTATE packing round-trips, and junk packs to 0. */
	packed = pg_sqlstate_pack("22012");
	pgsql__sqlstate_unpack(packed, code);
	CHECK(!strcmp(code, "22012"), "22012 round-trips, got %s", code);
	pgsql__sqlstate_unpack(pg_sqlstate_pack("42P01"), code);
	CHECK(!strcmp(code, "42P01"), "letters round-trip, got %s", code);
	pgsql__sqlstate_unpack(pg_sqlstate_pack("ZZZZZ"), code);
	CHECK(!strcmp(code, "ZZZZZ"), "the largest code fits 32 bits, got %s", code);
	CHECK(pg_sqlstate_pack("22\x0012") == 0, "a NUL inside is junk");
	CHECK(pg_sqlstate_pack("2201a") == 0, "lower case is junk");

	/* Client backends' titles name their database; other processes have none. */
	CHECK(pgsql__title_database("postgres: 15/main: alice shop 127.0.0.1(5432) idle", db,
				    sizeof(db)) &&
		  !strcmp(db, "shop"),
	      "TCP backend with cluster name");
	CHECK(pgsql__title_database("postgres: bob bench [local] SELECT", db, sizeof(db)) &&
		  !strcmp(db, "bench"),
	      "unix-socket backend");
	CHECK(pgsql__title_database("postgres: carol db1 ::1(40000) idle in transaction", db,
				    sizeof(db)) &&
		  !strcmp(db, "db1"),
	      "IPv6 backend");
	CHECK(!pgsql__title_database("postgres: 15/main: checkpointer", db, sizeof(db)),
	      "checkpointer");
	CHECK(!pgsql__title_database("postgres: autovacuum worker bench", db, sizeof(db)),
	      "autovacuum worker");
	CHECK(!pgsql__title_database("postgres: 15/main: logical replication launcher", db,
				     sizeof(db)),
	      "launcher");
	CHECK(!pgsql__title_database("postgres: parallel worker for PID 12", db, sizeof(db)),
	      "parallel worker");
	CHECK(!pgsql__title_database("postgres: ", db, sizeof(db)), "empty title");
	CHECK(!pgsql__title_database("postgres: dave shop", db, sizeof(db)), "no host field");
	CHECK(!pgsql__title_database("postgres: dave shop port) idle", db, sizeof(db)),
	      "a host field ending in ')' without its '('");
	CHECK(!pgsql__title_database("postgrez: erin shop [local] idle", db, sizeof(db)),
	      "not a PostgreSQL title");
	CHECK(pgsql__title_database("postgres: frank sales 10.0.0.7(51000)", db, sizeof(db)) &&
		  !strcmp(db, "sales"),
	      "title ending at the host (no state yet)");
	{
		/* What the BPF side reads: the title, then the NUL-padded rest of argv. */
		char text[PG_TEXT_LEN] = "postgres: gus inventory [local] idle";
		char small[5];
		struct pg_title t;

		CHECK(pg_title_database(text, 128, &t, db, sizeof(db)) == 0 &&
			  !strcmp(db, "inventory"),
		      "title read as 128 bytes of argv, NULs after it");
		CHECK(pg_title_database(text, 128, &t, small, sizeof(small)) == 0 &&
			  !strcmp(small, "inve"),
		      "a database longer than the room is cut, NUL-terminated: %s", small);
	}

	FINISH();
}
