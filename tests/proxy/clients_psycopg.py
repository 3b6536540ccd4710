"""psycopg 3 through a node: server-side binding, prepared statements,
pipeline mode with an error in the middle, COPY, and binary results."""
import sys
import psycopg

dsn = f"host={sys.argv[2] if len(sys.argv) > 2 else '127.0.0.1'} port={sys.argv[1]} user=postgres dbname=postgres"
with psycopg.connect(dsn, autocommit=True) as conn:
    cur = conn.cursor()
    cur.execute("select %s::int * %s::int, %s::text", (6, 7, "x"))
    assert cur.fetchone() == (42, "x")
    print("ok server-side binding")
    for i in range(8):
        cur.execute("select %s::int + 1", (i,), prepare=True)
        assert cur.fetchone() == (i + 1,)
    print("ok prepared")
    cur.execute("create temp table p (id int primary key)")
    with conn.pipeline() as p:
        for i in range(100):
            cur.execute("insert into p values (%s)", (i,))
        p.sync()
        cur.execute("select count(*) from p")
        assert cur.fetchone() == (100,)
    print("ok pipeline")
    try:
        with conn.pipeline() as p:
            cur.execute("insert into p values (1000)")
            cur.execute("insert into p values (1)")   # duplicate key
            cur.execute("insert into p values (1001)")
    except psycopg.errors.UniqueViolation:
        print("ok pipeline error")
    cur.execute("select count(*) from p")
    n = cur.fetchone()[0]
    assert n == 100, n     # the failed batch rolled back as a whole
    print("ok pipeline skips to sync")
    with cur.copy("copy (select g from generate_series(1, 50000) g) to stdout") as copy:
        n = sum(1 for _ in copy.rows())
    assert n == 50000
    print("ok copy out")
    with cur.copy("copy p from stdin") as copy:
        for i in range(2000, 7000):
            copy.write_row((i,))
    cur.execute("select count(*) from p")
    assert cur.fetchone() == (5100,)
    print("ok copy in")
    cur.execute("select 'abc'::bytea", binary=True)
    assert cur.fetchone() == (b"abc",)
    print("ok binary")
