#!/usr/bin/env python3
"""Failover time of an ef45-gatewayd cluster (issue 10): SIGKILL one of two nodes sharing a
fleet of emulated readers, and measure on the database clock how long until the survivor
commits the first event of a reader it took over, and until every taken-over reader has one.

Each run: a fresh database on one private PostgreSQL (tests/support/pg.sh), a fresh ef45-sim
fleet, two nodes (a, b) that split the fleet, a warm-up until events flow from every reader,
SIGKILL a (no flush, no lease release, its reader locks stay held), then wait. Prints one row
per run and p50/p99 over the runs. Example:
  bench/cluster/failover_bench.py --build build --runs 10 --readers 20 --lease-ms 3000 --renew-ms 1000
"""
import argparse, json, os, platform, re, shutil, signal, subprocess, sys, tempfile, time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "poll"))
from fleet_bench import data_keys_line  # noqa: E402  (the default: users encrypted at rest)


def http(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def percentile(values, q):
    v = sorted(values)
    if not v:
        return float("nan")
    # nearest rank
    k = max(0, min(len(v) - 1, int(round(q * len(v) + 0.5)) - 1))
    return v[k]


def wait(cond, deadline, step=0.05, what="condition"):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(step)
    raise RuntimeError(f"timed out waiting for {what}")


class Bench:
    def __init__(self, args):
        self.args = args
        self.dir = tempfile.mkdtemp(prefix="ef45gw-cluster-bench.")
        os.chmod(self.dir, 0o755)
        self.build = os.path.abspath(args.build)
        self.procs = []
        pg = os.path.join(self.dir, "pg")
        subprocess.run([os.path.join(ROOT, "tests/support/pg.sh"), "start", pg], check=True,
                       stdout=subprocess.DEVNULL)
        env = open(os.path.join(pg, "env")).read()
        self.pgport = int(re.search(r"PGPORT=(\d+)", env).group(1))

    def psql(self, sql, db):
        return subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.pgport), "-U", "postgres",
                               "-d", db, "-tAc", sql], check=True, capture_output=True,
                              text=True).stdout.strip()

    def spawn(self, argv, log):
        p = subprocess.Popen(argv, stdout=open(os.path.join(self.dir, log), "w"),
                             stderr=subprocess.STDOUT)
        self.procs.append(p)
        return p

    def run_once(self, n):
        a = self.args
        db = f"run{n}"
        self.psql(f"CREATE DATABASE {db}", "postgres")
        ready = os.path.join(self.dir, f"sim{n}.json")
        sim = self.spawn([os.path.join(self.build, "tools/ef45-sim/ef45-sim"), "--readers",
                          str(a.readers), "--base-port", "0", "--control-port", "0", "--rate",
                          str(a.rate), "--door-rate", "0.1", "--seed", str(100 + n),
                          "--ready-file", ready, "--log-level", "warn"], f"sim{n}.log")
        wait(lambda: os.path.exists(ready) and os.path.getsize(ready) > 0, 20, what="ef45-sim")
        info = json.load(open(ready))
        nodes = {}
        keys = data_keys_line(self.dir)
        for node in ("a", "b"):
            port = free_port()
            lines = [f'database: {{ dsn: "host=127.0.0.1 port={self.pgport} user=postgres '
                     f'dbname={db}" }}',
                     f'api: {{ listen: "127.0.0.1:{port}" }}', "log: { level: warn }",
                     f'cluster: {{ node_id: {node}, lease_ms: {a.lease_ms}, renew_ms: {a.renew_ms},'
                     f' advertise_url: "http://127.0.0.1:{port}" }}', keys, "readers:"]
            for r in info["readers"]:
                lines.append(f'  - {{ id: "sim-{r["index"]:03d}", host: 127.0.0.1, '
                             f'port: {r["port"]} }}')
            cfg = os.path.join(self.dir, f"gw-{n}-{node}.yaml")
            with open(cfg, "w") as f:
                f.write("\n".join(lines) + "\n")
            proc = self.spawn([os.path.join(self.build, "daemon/ef45-gatewayd"), "run", "--config",
                               cfg], f"gw-{n}-{node}.log")
            nodes[node] = (proc, port)
            if node == "a":
                # a first, so that b joins a running cluster as in production.
                wait(lambda: self.psql("SELECT count(*) FROM device_leases WHERE owner = 'a' "
                                       "AND expires_at > now()", db) == str(a.readers)
                     if self.has_table(db) else False, 60, 0.1, "node a owning the fleet")

        half = a.readers // 2
        wait(lambda: self.psql("SELECT count(*) FROM device_leases WHERE expires_at > now() "
                               "GROUP BY owner ORDER BY 1", db).split() == [str(half),
                                                                           str(a.readers - half)],
             60, 0.1, "a 50/50 split")
        wait(lambda: self.psql("SELECT count(DISTINCT device_id) FROM events WHERE stored_at > "
                               "now() - interval '2 seconds'", db) == str(a.readers),
             60, 0.1, "events from every reader")
        of_a = self.psql("SELECT string_agg(quote_literal(device_id), ',') FROM device_leases "
                         "WHERE owner = 'a' AND expires_at > now()", db)
        nodes["a"][0].send_signal(signal.SIGKILL)
        nodes["a"][0].wait()
        killed = self.psql("SELECT clock_timestamp()", db)
        moved = len(of_a.split(","))
        after = f"FROM events WHERE device_id IN ({of_a}) AND stored_at > '{killed}'::timestamptz"
        wait(lambda: self.psql(f"SELECT count(DISTINCT device_id) {after}", db) == str(moved),
             60, 0.05, "every taken-over reader committing")
        first = float(self.psql(f"SELECT extract(epoch FROM min(stored_at) - "
                                f"'{killed}'::timestamptz) * 1000 {after}", db))
        last = float(self.psql(f"SELECT max(ms) FROM (SELECT extract(epoch FROM min(stored_at) - "
                               f"'{killed}'::timestamptz) * 1000 AS ms {after} GROUP BY device_id) s",
                               db))
        for p in (nodes["b"][0], sim):
            p.terminate()
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        self.psql(f"DROP DATABASE {db} WITH (FORCE)", "postgres")
        return moved, first, last

    def has_table(self, db):
        return self.psql("SELECT to_regclass('cluster_nodes') IS NOT NULL", db) == "t"

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        subprocess.run([os.path.join(ROOT, "tests/support/pg.sh"), "stop",
                        os.path.join(self.dir, "pg")], stdout=subprocess.DEVNULL)
        shutil.rmtree(self.dir, ignore_errors=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--readers", type=int, default=20)
    p.add_argument("--rate", type=float, default=2.0, help="recognitions per reader per second")
    p.add_argument("--lease-ms", type=int, default=3000)
    p.add_argument("--renew-ms", type=int, default=1000)
    args = p.parse_args()
    model = ""
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    b = Bench(args)
    rows = []
    try:
        print(f"\nfailover_bench: {args.readers} readers at {args.rate} recognitions/s each, two "
              f"nodes, lease {args.lease_ms} ms, renew {args.renew_ms} ms, logs polled every 2 s; "
              f"{os.cpu_count()} cores, {model}\n")
        print(f"| {'run':>3} | {'readers moved':>13} | {'kill -> first event ms':>22} | "
              f"{'kill -> all moved readers ms':>28} |")
        print(f"|{'-' * 5}|{'-' * 15}|{'-' * 24}|{'-' * 30}|")
        for n in range(args.runs):
            moved, first, last = b.run_once(n)
            rows.append((first, last))
            print(f"| {n + 1:>3} | {moved:>13} | {first:>22.0f} | {last:>28.0f} |", flush=True)
    finally:
        b.stop()
    firsts = [r[0] for r in rows]
    lasts = [r[1] for r in rows]
    print(f"\n| {'over ' + str(len(rows)) + ' runs':>19} | {'p50 ms':>8} | {'p99 ms':>8} | "
          f"{'max ms':>8} |")
    print(f"|{'-' * 21}|{'-' * 10}|{'-' * 10}|{'-' * 10}|")
    for name, v in (("first event", firsts), ("all moved readers", lasts)):
        print(f"| {name:>19} | {percentile(v, 0.5):>8.0f} | {percentile(v, 0.99):>8.0f} | "
              f"{max(v):>8.0f} |")
    print("\ntimes on the PostgreSQL clock: SIGKILL (clock_timestamp() right after the kill) to "
          "the stored_at of events of readers the killed node owned")


if __name__ == "__main__":
    main()
