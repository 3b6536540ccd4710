/*
 * txn_entry_cli.c
 *	  Test tool: builds one log entry in the capture's format
 *	  (sync/txn_codec.h) from a small text script on stdin and prints it in
 *	  hex, for `propose-hex` on a node's control socket.  It lets the
 *	  integration tests drive the applier with exact entries.
 *
 *	  txn_entry_cli DB GID < script
 *	  script lines:
 *		rel SCHEMA NAME COL:TYPEOID[:key] ...	(relations, in order 0, 1 ...)
 *		I RELIDX V1 V2 ...			insert (value \N is NULL)
 *		U RELIDX V1 V2 ...			update, key taken from the new row
 *		D RELIDX K1 K2 ...			delete by the key columns (others NULL)
 *		X SQL ...					DDL text
 *	  or, with DB GID and the single word "statement SQL ...", "abort".
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/pgq_buf.h"
#include "sync/txn_codec.h"

#define MAX_RELS 16

static struct txn_relation rels[MAX_RELS];
static struct txn_column cols[MAX_RELS][64];
static int	n_rels;
static struct txn_tuple tuple;

static struct txn_str
str(const char *s)
{
	return (struct txn_str) {s, (uint32_t) strlen(s)};
}

static void
parse_rel(char *rest)
{
	struct txn_relation *r = &rels[n_rels];
	char	   *save;
	char	   *tok;

	r->relid = (uint32_t) (16384 + n_rels);
	r->replident = 'd';
	r->schema = str(strdup(strtok_r(rest, " \n", &save)));
	r->name = str(strdup(strtok_r(NULL, " \n", &save)));
	r->cols = cols[n_rels];
	while ((tok = strtok_r(NULL, " \n", &save)) != NULL)
	{
		struct txn_column *c = &cols[n_rels][r->ncols++];
		char	   *save2;
		char	   *name = strdup(strtok_r(tok, ":", &save2));
		char	   *oid = strtok_r(NULL, ":", &save2);
		char	   *key = strtok_r(NULL, ":", &save2);

		c->name = str(name);
		c->typoid = (uint32_t) atoi(oid);
		c->typmod = -1;
		c->flags = key != NULL ? TXN_COL_KEY : 0;
	}
	n_rels++;
}

/* Values of one row; for a key-only tuple, non-key columns are NULL. */
static const struct txn_tuple *
parse_tuple(const struct txn_relation *r, bool key_only)
{
	tuple.ncols = r->ncols;
	for (int i = 0; i < r->ncols; i++)
	{
		char	   *v = NULL;

		if (!key_only || (r->cols[i].flags & TXN_COL_KEY))
			v = strtok(NULL, " \n");
		if (v == NULL || strcmp(v, "\\N") == 0)
			tuple.vals[i] = (struct txn_value) {.kind = TXN_VAL_NULL};
		else
			tuple.vals[i] = (struct txn_value) {.kind = TXN_VAL_TEXT,
			.len = (uint32_t) strlen(v), .data = (const uint8_t *) strdup(v)};
	}
	return &tuple;
}

static void
add_change(struct txn_writer *w, char *line)
{
	struct txn_change c = {.kind = (uint8_t) line[0]};

	if (c.kind == TXN_CH_DDL)
		c.ddl = str(strdup(line + 2));
	else
	{
		strtok(line, " \n");
		c.relidx = (uint32_t) atoi(strtok(NULL, " \n"));
		if (c.kind == TXN_CH_DELETE)
		{
			c.old_kind = TXN_OLD_KEY;
			c.old_tuple = parse_tuple(&rels[c.relidx], true);
		}
		else
			c.new_tuple = parse_tuple(&rels[c.relidx], false);
	}
	if (!txn_writer_add_change(w, &c))
		exit(1);
}

int
main(int argc, char **argv)
{
	struct txn_entry hdr = {.kind = TXN_KIND_CHUNK, .flags = TXN_FLAG_FINAL, .origin_node = 1};
	struct txn_writer w;
	struct pgq_buf out;
	char		line[8192];

	if (argc != 3)
	{
		fprintf(stderr, "usage: txn_entry_cli DB GID < script\n");
		return 2;
	}
	hdr.dbname = str(argv[1]);
	hdr.gid = str(argv[2]);
	hdr.txn_id = str(argv[2]);
	txn_writer_init(&w, 1 << 20);
	pgq_buf_init(&out, 1 << 22);
	while (fgets(line, sizeof(line), stdin) != NULL)
	{
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "rel ", 4) == 0)
		{
			parse_rel(line + 4);
			if (!txn_writer_add_relation(&w, &rels[n_rels - 1]))
				return 1;
		}
		else if (strncmp(line, "statement ", 10) == 0)
		{
			hdr = (struct txn_entry) {.kind = TXN_KIND_STATEMENT, .origin_node = 1,
			.dbname = str(argv[1]), .sql = str(strdup(line + 10))};
		}
		else if (strcmp(line, "abort") == 0)
			hdr.kind = TXN_KIND_ABORT, hdr.flags = 0, hdr.txn_id = str("");
		else if (line[0] != '\0')
			add_change(&w, line);
	}
	if (!(hdr.kind == TXN_KIND_CHUNK ? txn_writer_finish(&w, &hdr, &out)
		  : txn_entry_encode(&hdr, &out)))
		return 1;
	for (size_t i = 0; i < out.len; i++)
		printf("%02x", pgq_buf_head(&out)[i]);
	printf("\n");
	return 0;
}
