"""psycopg 3 reads the admin views through a node with the extended query
protocol (server-side binding: Parse/Bind/Execute with $n parameters).
Usage: admin_psycopg.py PORT.  Prints one "ok ..." line per check; any
failed check raises (non-zero exit)."""
import sys
import time
import psycopg

port = sys.argv[1]
dsn = f"host=127.0.0.1 port={port} user=postgres dbname=postgres"
with psycopg.connect(dsn, autocommit=True) as conn:
    cur = conn.cursor()
    cur.execute("SELECT id FROM pgquorum.nodes ORDER BY id")
    ids = [r[0] for r in cur.fetchall()]
    assert len(ids) == 3, ids
    for i in ids:
        cur.execute("SELECT id, role, voter FROM pgquorum.nodes WHERE id = %s", (i,))
        rows = cur.fetchall()
        assert len(rows) == 1 and rows[0][0] == i and rows[0][2] is True, rows
    print("ok pgquorum.nodes WHERE id = $1 (bound bigint)")
    assert cur.description[0].type_code == 20, cur.description[0]   # int8
    print("ok id is bigint in the row description")
    cur.execute("SELECT count(*) FROM pgquorum.nodes WHERE role = %s AND reachable = %s",
                ("primary", True))
    assert cur.fetchone()[0] == 1
    print("ok two parameters of two types")
    cur.execute("SELECT s.id FROM pgquorum.sessions s JOIN pg_stat_activity a "
                "ON a.usename = s.role WHERE a.pid = pg_backend_pid() AND s.state = %s",
                ("active",))
    assert len(cur.fetchall()) >= 1
    print("ok sessions joined with pg_stat_activity, bound text")
    # A named prepared statement executed again reads the figures of each
    # execution: this session's "since" moves with every message it sends.
    seen = []
    for i in range(4):
        time.sleep(0.05)
        cur.execute("SELECT since FROM pgquorum.sessions WHERE state = %s",
                    ("active",), prepare=True)
        rows = cur.fetchall()
        assert len(rows) == 1, rows
        seen.append(rows[0][0])
    assert seen == sorted(seen) and len(set(seen)) == 4, seen
    print("ok named prepared statement reads fresh figures at each execution")
    cur.execute("SELECT count(*) FROM pgquorum.settings WHERE name = %s", ("node_id",),
                prepare=True)
    assert cur.fetchone()[0] == 1
    conn.execute("DEALLOCATE ALL")
    cur.execute("SELECT count(*) FROM pgquorum.settings WHERE name = %s", ("node_id",))
    assert cur.fetchone()[0] == 1
    print("ok a named statement over a view after DEALLOCATE ALL")
    # Commit index read twice through the unnamed statement: fresh figures.
    cur.execute("SELECT commit_index FROM pgquorum.nodes WHERE role = %s", ("primary",))
    c1 = cur.fetchone()[0]
    assert c1 is None or c1 >= 1
    print("ok commit index through the extended protocol")
    try:
        cur.execute("SELECT pgquorum.wait_applied(%s, 10)", (1,))
        raise AssertionError("a parameter to an admin function was accepted")
    except psycopg.errors.FeatureNotSupported:
        print("ok admin function with a parameter refused (0A000)")
    cur.execute("SET pgquorum.read_consistency = session")
    cur.execute("SHOW pgquorum.read_consistency")
    assert cur.fetchone()[0] == "session"
    print("ok SET/SHOW pgquorum.read_consistency")
    try:
        cur.execute("SET pgquorum.read_consistency = sometimes")
        raise AssertionError("a bad level was accepted")
    except psycopg.errors.InvalidParameterValue:
        print("ok bad level refused (22023)")
