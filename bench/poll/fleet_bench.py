#!/usr/bin/env python3
"""Fleet benchmarks of ef45-gatewayd against ef45-sim on this machine (issue 5).

  fleet   N readers at the default poll rates and R recognitions/s each: polls on time
          (share of polls that started within 10% of their interval), gateway CPU and RSS,
          end-to-end lag (reader log time -> committed), errors.
  catchup one reader with a B-log backlog while N others keep polling: time to ingest it,
          and whether the others kept their cadence meanwhile.

Each run starts a private PostgreSQL (tests/support/pg.sh), ef45-sim and ef45-gatewayd, prints a
table, and stops everything. Example:
  bench/poll/fleet_bench.py fleet --readers 1000 --rate 1 --seconds 60
  bench/poll/fleet_bench.py catchup --readers 100 --backlog 100000
With PERF=1 in the environment, `perf record` samples the gateway during the fleet window and a
flat profile (top symbols, and the kernel's share) is printed after the table; PERF=graph records
call graphs instead and prints each symbol's inclusive share (what it costs with its callees).

The fleet table also gives the gateway's CPU split into user and kernel time, its context
switches per poll, and its memory per reader: the fleet's RSS minus the RSS of the same gateway
polling no reader (started first, on the same database, for a few seconds), divided by the
readers. The RSS peak is given twice: start-up and warm-up (VmHWM when the window opens), and
the window's own (VmRSS sampled twice a second). --io-threads N sets the config's
`io_threads` (omitted when 1, the default).
--build points at a build directory holding daemon/ef45-gatewayd and tools/ef45-sim/ef45-sim
(default: ./build of this tree); nothing is built.
"""
import secrets
import argparse, json, os, platform, re, shutil, subprocess, sys, tempfile, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INTERVALS = {"door": 1.0, "match": 0.5, "logs": 2.0}


def data_keys_line(directory):
    """Writes a fresh data key file (mode 0600) and returns the config's `security:` line: the
    default setting, users encrypted at rest (issue 17)."""
    path = os.path.join(directory, "data.keys")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f"k1 {secrets.token_hex(32)}\n")
    return f'security: {{ data_keys_file: "{path}" }}'


def machine():
    model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} cores, {model}, {platform.node()}"


def http(url, data=None, timeout=10):
    req = urllib.request.Request(url, data=data.encode() if data else None,
                                 method="POST" if data is not None else "GET")
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.read().decode()


def stat_cpu_seconds(path):
    """utime + stime, in seconds, from a /proc .../stat file."""
    with open(path) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    return stat_cpu_seconds(f"/proc/{pid}/stat")


def cpu_split(pid):
    """(user, kernel) CPU seconds of a process so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def thread_cpu_seconds(pid, tid):
    """CPU seconds of one thread of a process so far (0 once it is gone)."""
    try:
        return stat_cpu_seconds(f"/proc/{pid}/task/{tid}/stat")
    except FileNotFoundError:
        return 0.0


def context_switches(pid):
    """Voluntary + involuntary context switches of all the process's threads."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                for line in f:
                    if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                        total += int(line.split()[1])
        except FileNotFoundError:
            pass
    return total


def rss_mb(pid, key="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def scrape(port):
    """Histogram buckets and counters we need from /metrics."""
    text = http(f"http://127.0.0.1:{port}/metrics")
    buckets, counts, errors, ingested = {}, {}, 0.0, 0.0
    for line in text.splitlines():
        m = re.match(r'ef45gw_poll_lateness_seconds_bucket\{kind="(\w+)",le="([^"]+)"\} (\S+)', line)
        if m:
            buckets[(m.group(1), m.group(2))] = float(m.group(3))
        m = re.match(r'ef45gw_poll_lateness_seconds_count\{kind="(\w+)"\} (\S+)', line)
        if m:
            counts[m.group(1)] = float(m.group(2))
        if line.startswith("ef45gw_poll_errors_total{"):
            errors += float(line.rsplit(" ", 1)[1])
        if line.startswith("ef45gw_events_ingested_total{"):
            ingested += float(line.rsplit(" ", 1)[1])
    return buckets, counts, errors, ingested


def scrape_durations(port):
    """ef45gw_poll_duration_seconds buckets by (kind, le): request to reply and its handling."""
    out = {}
    for line in http(f"http://127.0.0.1:{port}/metrics").splitlines():
        m = re.match(r'ef45gw_poll_duration_seconds_bucket\{kind="(\w+)",le="([^"]+)"\} (\S+)',
                     line)
        if m:
            out[(m.group(1), m.group(2))] = float(m.group(3))
    return out


def duration_quantile(d0, d1, kind, q):
    """The upper bound (ms) of the bucket holding quantile q of the window's polls of `kind`."""
    bounds = sorted((float(le), le) for k, le in d1 if k == kind and le != "+Inf")
    total = d1.get((kind, "+Inf"), 0) - d0.get((kind, "+Inf"), 0)
    if not total:
        return float("nan")
    for value, le in bounds:
        if d1.get((kind, le), 0) - d0.get((kind, le), 0) >= q * total:
            return value * 1000
    return float("inf")


def gateway_env():
    """The gateway's environment: ours, plus GW_ENV's space-separated KEY=VALUE pairs (e.g.
    GW_ENV=GLIBC_TUNABLES=glibc.malloc.mxfast=0), which reach the gateway only, not ef45-sim."""
    env = dict(os.environ)
    for pair in os.environ.get("GW_ENV", "").split():
        key, _, value = pair.partition("=")
        env[key] = value
    return env


class Stack:
    def __init__(self, args):
        self.args = args
        self.dir = tempfile.mkdtemp(prefix="ef45gw-bench.")
        os.chmod(self.dir, 0o755)
        self.procs = []
        self.build = os.path.abspath(args.build)

    def psql(self, sql, db="ef45gw"):
        return subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.pgport), "-U", "postgres",
                               "-d", db, "-tAc", sql], check=True, capture_output=True,
                              text=True).stdout.strip()

    def start(self, readers, rate):
        pg = os.path.join(self.dir, "pg")
        subprocess.run([os.path.join(ROOT, "tests/support/pg.sh"), "start", pg], check=True,
                       stdout=subprocess.DEVNULL)
        env = open(os.path.join(pg, "env")).read()
        self.pgport = int(re.search(r"PGPORT=(\d+)", env).group(1))
        self.psql("CREATE DATABASE ef45gw", db="postgres")
        ready = os.path.join(self.dir, "sim.json")
        self.sim = subprocess.Popen(
            [os.path.join(self.build, "tools/ef45-sim/ef45-sim"), "--readers", str(readers),
             "--base-port", "0", "--control-port", "0", "--rate", str(rate), "--door-rate",
             "0.02", "--seed", "7", "--ready-file", ready, "--log-level", "warn"],
            stdout=open(os.path.join(self.dir, "sim.log"), "w"), stderr=subprocess.STDOUT)
        self.procs.append(self.sim)
        for _ in range(600):
            if os.path.exists(ready):
                break
            time.sleep(0.05)
        info = json.load(open(ready))
        self.control = info["control_port"]
        self.api = free_port()
        lines = [f'database: {{ dsn: "host=127.0.0.1 port={self.pgport} user=postgres dbname=ef45gw" }}',
                 f'api: {{ listen: "127.0.0.1:{self.api}" }}', "log: { level: warn }",
                 data_keys_line(self.dir)]
        if getattr(self.args, "extra_yaml", ""):  # e.g. a fleet: block (settings profiles) to measure its cost
            lines.append(open(self.args.extra_yaml).read().rstrip("\n"))
        if getattr(self.args, "io_threads", 1) != 1:
            lines.append(f"io_threads: {self.args.io_threads}")
        with open(os.path.join(self.dir, "gw-empty.yaml"), "w") as f:
            f.write("\n".join(lines + ["readers: []"]) + "\n")
        lines.append("readers:")
        for r in info["readers"]:
            lines.append(f'  - {{ id: "sim-{r["index"]:04d}", host: 127.0.0.1, port: {r["port"]} }}')
        with open(os.path.join(self.dir, "gw.yaml"), "w") as f:
            f.write("\n".join(lines) + "\n")

    def empty_rss(self):
        """RSS (MB) of the gateway polling no reader, after a few seconds: the fixed part."""
        gw = subprocess.Popen(
            [os.path.join(self.build, "daemon/ef45-gatewayd"), "run", "--config",
             os.path.join(self.dir, "gw-empty.yaml")], env=gateway_env(),
            stdout=open(os.path.join(self.dir, "gw-empty.log"), "w"), stderr=subprocess.STDOUT)
        try:
            for _ in range(600):
                try:
                    if json.loads(http(f"http://127.0.0.1:{self.api}/readyz")).get("started"):
                        break
                except Exception:
                    pass
                if gw.poll() is not None:
                    return float("nan")
                time.sleep(0.1)
            time.sleep(3)
            return rss_mb(gw.pid)
        finally:
            gw.terminate()
            try:
                gw.wait(20)
            except subprocess.TimeoutExpired:
                gw.kill()

    def start_gateway(self):
        self.gw = subprocess.Popen(
            [os.path.join(self.build, "daemon/ef45-gatewayd"), "run", "--config",
             os.path.join(self.dir, "gw.yaml")], env=gateway_env(),
            stdout=open(os.path.join(self.dir, "gw.log"), "w"), stderr=subprocess.STDOUT)
        self.procs.append(self.gw)
        for _ in range(1200):
            try:
                if json.loads(http(f"http://127.0.0.1:{self.api}/readyz")).get("started"):
                    return
            except Exception:
                pass
            if self.gw.poll() is not None:
                sys.exit(f"gateway exited (status {self.gw.returncode}): " +
                         open(os.path.join(self.dir, "gw.log")).read()[-2000:])
            time.sleep(0.1)
        sys.exit("gateway not ready")

    def stop(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()
        subprocess.run([os.path.join(ROOT, "tests/support/pg.sh"), "stop",
                        os.path.join(self.dir, "pg")], stdout=subprocess.DEVNULL)
        shutil.rmtree(self.dir, ignore_errors=True)


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_perf(s):
    """perf record on the gateway for the window (no call graphs: a flat profile is enough)."""
    if not shutil.which("perf"):
        print("PERF=1: perf is not installed (apt-get install linux-perf)", file=sys.stderr)
        return None
    out = os.path.join(s.dir, "perf.data")
    # PERF=graph: call graphs (DWARF unwinding, at a lower rate), for the inclusive profile.
    graph = ["-F", "97", "--call-graph", "dwarf,16384"] if os.environ.get("PERF") == "graph" \
        else ["-F", "499"]
    return subprocess.Popen(["perf", "record", *graph, "-p", str(s.gw.pid), "-o", out, "--",
                             "sleep", str(s.args.seconds)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), out


def print_perf(s, perf):
    proc, out = perf
    proc.wait(120)
    if os.environ.get("PERF_KEEP"):  # the recording, for perf report by hand
        shutil.copy(out, os.environ["PERF_KEEP"])
    if os.environ.get("PERF") == "graph":
        report = subprocess.run(["perf", "report", "-i", out, "--stdio", "--children",
                                 "--sort", "symbol", "-g", "none", "--percent-limit", "2"],
                                capture_output=True, text=True).stdout
        print("\nperf (gateway, call graphs): inclusive share (children) of symbols over 2%:")
        for l in report.splitlines():
            if l.strip() and not l.startswith("#"):
                print("  " + " ".join(l.split())[:160])
        return
    report = subprocess.run(["perf", "report", "-i", out, "--stdio", "--no-children",
                             "--sort", "dso,symbol", "--percent-limit", "0.8"],
                            capture_output=True, text=True).stdout
    rows = [" ".join(l.split()).removesuffix(" - -") for l in report.splitlines()
            if l.strip() and not l.startswith("#")]
    kernel = sum(float(l.split("%")[0]) for l in rows if "[kernel" in l)
    print(f"\nperf (gateway, {s.args.seconds}s at 499 Hz): kernel share of the listed rows "
          f"{kernel:.1f}%; symbols over 0.8%:")
    for l in rows[:30]:
        print("  " + l[:150])


def on_time(b0, b1, c0, c1, kind):
    le = {"door": "0.1", "match": "0.05", "logs": "0.2"}[kind]
    total = c1.get(kind, 0) - c0.get(kind, 0)
    ok = b1.get((kind, le), 0) - b0.get((kind, le), 0)
    return (ok / total if total else float("nan")), total


def fleet(args):
    s = Stack(args)
    try:
        s.start(args.readers, args.rate)
        base_rss = s.empty_rss()
        s.start_gateway()
        time.sleep(args.warmup)
        b0, c0, e0, i0 = scrape(s.api)
        d0 = scrape_durations(s.api)
        split0, cs0 = cpu_split(s.gw.pid), context_switches(s.gw.pid)
        main0 = thread_cpu_seconds(s.gw.pid, s.gw.pid)
        cpu0, t0 = cpu_seconds(s.gw.pid), time.time()
        sim_cpu0 = cpu_seconds(s.sim.pid)
        window_start = s.psql("SELECT now()")
        perf = start_perf(s) if os.environ.get("PERF") in ("1", "graph") else None
        # The high-water mark so far is start-up and warm-up (the first polls fetch whatever
        # the readers buffered meanwhile); the window's own peak is sampled twice a second.
        startup_hwm, window_peak = rss_mb(s.gw.pid, "VmHWM"), 0.0
        deadline = time.time() + args.seconds
        while (left := deadline - time.time()) > 0:
            window_peak = max(window_peak, rss_mb(s.gw.pid))
            time.sleep(min(0.5, left))
        cpu1, t1 = cpu_seconds(s.gw.pid), time.time()
        split1, cs1 = cpu_split(s.gw.pid), context_switches(s.gw.pid)
        main1 = thread_cpu_seconds(s.gw.pid, s.gw.pid)
        sim_cpu1 = cpu_seconds(s.sim.pid)
        b1, c1, e1, i1 = scrape(s.api)
        d1 = scrape_durations(s.api)
        window_end = s.psql("SELECT now()")
        rss, hwm = rss_mb(s.gw.pid), rss_mb(s.gw.pid, "VmHWM")
        # Reader timestamps have 1 s resolution: an event stamped S happened in [S, S+1), so the
        # lag is estimated from the middle of that second.
        lag = s.psql(
            "SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY l)::numeric, 3), "
            "round(percentile_cont(0.99) WITHIN GROUP (ORDER BY l)::numeric, 3), count(*) FROM "
            "(SELECT extract(epoch FROM stored_at - device_time) - 0.5 AS l FROM events "
            f"WHERE kind = 'recognition' AND stored_at BETWEEN '{window_start}' AND '{window_end}' "
            "AND device_time IS NOT NULL) x").split("|")
        wall = t1 - t0
        print(f"\nef45-gatewayd fleet benchmark — {machine()}")
        print(f"readers={args.readers} rate={args.rate}/s/reader window={args.seconds}s "
              f"(after {args.warmup}s warm-up) io_threads={args.io_threads}; gateway and ef45-sim "
              "on the same machine\n")
        print(f"{'metric':42} {'value':>14}")
        for kind in ("door", "match", "logs"):
            share, total = on_time(b0, b1, c0, c1, kind)
            print(f"{kind + ' polls within 10% of interval':42} {share * 100:13.2f}%  ({int(total)} polls)")
        # A poll's duration is the reader's answer time plus the gateway's handling; a reader
        # that answers slowly (here: one emulator thread for the whole fleet, queueing the
        # requests of a tick) makes the reader's next poll start late.
        for kind in ("door", "match"):
            print(f"{kind + ' poll duration p50 / p99 (ms, bucket)':42} "
                  f"{duration_quantile(d0, d1, kind, 0.5):7.1f} / "
                  f"{duration_quantile(d0, d1, kind, 0.99):5.1f}")
        polls = sum(c1.get(k, 0) - c0.get(k, 0) for k in c1)
        print(f"{'gateway CPU (cores)':42} {(cpu1 - cpu0) / wall:14.3f}")
        print(f"{'gateway CPU per poll, all kinds (us)':42} "
              f"{(cpu1 - cpu0) / polls * 1e6 if polls else float('nan'):14.1f}  ({int(polls)} polls)")
        print(f"{'gateway CPU user / kernel (cores)':42} {(split1[0] - split0[0]) / wall:7.3f} / "
              f"{(split1[1] - split0[1]) / wall:5.3f}")
        # The main thread runs the io_context (with io_threads 1 all of the pollers and the API);
        # the others are the database pool, the deadline sweeper and, with io_threads > 1, the
        # io_context's other threads.
        main = (main1 - main0) / wall
        print(f"{'gateway CPU main (io) thread / others':42} {main:7.3f} / "
              f"{(cpu1 - cpu0) / wall - main:5.3f}")
        print(f"{'gateway CPU-seconds in window':42} {cpu1 - cpu0:14.2f}")
        print(f"{'gateway context switches per poll':42} "
              f"{(cs1 - cs0) / polls if polls else float('nan'):14.2f}")
        print(f"{'gateway RSS now / peak (MB)':42} {rss:7.1f} / {hwm:5.1f}")
        print(f"{'gateway RSS peak start-up / in window (MB)':42} {startup_hwm:7.1f} / "
              f"{max(window_peak, rss):5.1f}")
        print(f"{'gateway RSS polling no reader (MB)':42} {base_rss:14.1f}")
        print(f"{'memory per reader (KB, RSS - empty RSS)':42} "
              f"{(rss - base_rss) * 1024 / args.readers:14.1f}")
        sim_cores = (sim_cpu1 - sim_cpu0) / wall
        print(f"{'ef45-sim CPU (cores)':42} {sim_cores:14.3f}")
        # The emulator serves the same requests the gateway makes: its CPU moves with the VM's
        # speed as the gateway's does, so this ratio varies less between runs than either.
        print(f"{'gateway CPU / ef45-sim CPU':42} "
              f"{(cpu1 - cpu0) / wall / sim_cores if sim_cores else float('nan'):14.3f}")
        print(f"{'machine load average (1 min) at the end':42} {os.getloadavg()[0]:14.2f}")
        print(f"{'events committed/s':42} {(i1 - i0) / wall:14.1f}")
        print(f"{'poll errors in window':42} {e1 - e0:14.0f}")
        print(f"{'lag reader time -> committed p50 (s)':42} {lag[0]:>14}")
        print(f"{'lag reader time -> committed p99 (s)':42} {lag[1]:>14}")
        print(f"{'events in lag sample':42} {lag[2]:>14}")
        if perf:
            print_perf(s, perf)
    finally:
        s.stop()


def catchup(args):
    s = Stack(args)
    try:
        s.start(args.readers + 1, 0)
        http(f"http://127.0.0.1:{s.control}/sim/readers/0/generate",
             json.dumps({"recognitions": args.backlog}), timeout=300)
        s.start_gateway()
        b0, c0, _, _ = scrape(s.api)
        t0 = time.time()
        done = None
        while time.time() - t0 < args.timeout:
            d = json.loads(http(f"http://127.0.0.1:{s.api}/api/v1/devices/sim-0000"))
            if d["cursor"]["last_log_id"] >= args.backlog:
                done = time.time() - t0
                break
            time.sleep(0.2)
        b1, c1, _, _ = scrape(s.api)
        stored = s.psql("SELECT count(*) FROM events WHERE device_id = 'sim-0000' AND device_log_id IS NOT NULL")
        print(f"\nef45-gatewayd catch-up benchmark — {machine()}")
        print(f"one reader with {args.backlog} logs waiting, {args.readers} other readers polling "
              "at the default rates\n")
        print(f"{'metric':42} {'value':>14}")
        print(f"{'time to ingest the backlog (s)':42} {done if done is None else round(done, 2):>14}")
        if done:
            print(f"{'backlog ingest rate (logs/s)':42} {args.backlog / done:14.0f}")
        print(f"{'log events stored for that reader':42} {stored:>14}")
        for kind in ("door", "match", "logs"):
            share, total = on_time(b0, b1, c0, c1, kind)
            print(f"{'fleet ' + kind + ' polls within 10%':42} {share * 100:13.2f}%  ({int(total)} polls)")
    finally:
        s.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["fleet", "catchup"])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--readers", type=int, default=1000)
    ap.add_argument("--rate", type=float, default=1.0)
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--backlog", type=int, default=100000)
    ap.add_argument("--timeout", type=int, default=600)
    ap.add_argument("--extra-yaml", default="",
                    help="a file of top-level config keys added to the gateway's config")
    ap.add_argument("--io-threads", type=int, default=1)
    args = ap.parse_args()
    fleet(args) if args.mode == "fleet" else catchup(args)


if __name__ == "__main__":
    main()
