"""Where PostgreSQL's CPU goes per Task API cycle: subject (b) of the sustained benchmark with
pg_stat_statements loaded, then its statements by total execution time and the state
table's row and tuple counts.

    .venv/bin/python tools/bench/pgprofile.py [--duration 30]

The server's CPU per cycle (printed by scripts/bench.sh) includes the protocol and planning
around each statement; pg_stat_statements' execution times do not, so the two together say
whether fewer statements or cheaper ones would help. Every loop is bounded (sustained.py).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import subjects
import sustained

from harness.dapr import write_configuration
from harness.lifecycle import exit_on_sigterm
from harness.postgres import PostgresServer
from harness.redis import RedisServer

PROFILED = {"shared_preload_libraries": "pg_stat_statements", "pg_stat_statements.track": "all"}
TOP_STATEMENTS = """
SELECT calls, round(total_exec_time::numeric, 1) AS ms, rows,
       left(regexp_replace(query, '\\s+', ' ', 'g'), 140)
FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 20"""
TABLES = """
SELECT relname, n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del, n_live_tup, n_dead_tup,
       pg_total_relation_size(relid) FROM pg_stat_user_tables"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    exit_on_sigterm()
    with tempfile.TemporaryDirectory(prefix="taskapi-pgprofile-") as tmp:
        work = Path(tmp)
        config = write_configuration(work / "dapr" / "config.yaml", work / "dapr" / "names.db")
        with (
            RedisServer(work / "redis") as redis,
            PostgresServer(work / "postgres", settings=PROFILED) as pg,
            subjects.by_key(work, redis, config, pg)["b"]() as subject,
        ):
            databases = pg.sql("SELECT datname FROM pg_database", database="postgres").split()
            db = next(d for d in databases if d.startswith("bench_"))  # subjects.taskapi's
            pg.sql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements", database=db)
            pg.sql("SELECT pg_stat_statements_reset()", database=db)
            result = sustained.measure(subject, args.clients, args.duration, 60)
            sustained.report([result], args.duration)
            print(f"\n== statements over {result.cycles} cycles (calls|exec ms|rows|query) ==")
            print(pg.sql(TOP_STATEMENTS, database=db))
            print("\n== tables (inserted|updated|HOT|deleted|live|dead|bytes) ==")
            print(pg.sql(TABLES, database=db))


if __name__ == "__main__":
    main()
