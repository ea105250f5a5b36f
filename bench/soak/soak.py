#!/usr/bin/env python3
"""Soak benchmark: ef45-gatewayd against 200 emulated readers under a stream of random faults.

Starts a private PostgreSQL (tests/support/pg.sh), ef45-sim and ef45-gatewayd (default lock
policy), injects one seeded random fault every 30 s, then pauses generation, waits until the
gateway has drained every reader and checks:
  * exactly once per reader against the emulator's ledger: every generated log entry
    (log_epoch, log_id) is one `events` row, every generated match-data item (encounter_id) is
    one row with the match-data source bit (sources & 2);
  * gateway RSS growth < 10 % between the baseline (minute 5; a third of the run for runs
    shorter than 6 minutes) and the end, and no growth in open descriptors.
Prints a table; exits 1 on FAIL, 2 on a set-up error. Python 3 standard library only.

Usage: soak.py [minutes] [--seed S] [--skip KIND[,KIND]] [-v] [--build DIR] [--keep]
"""
import argparse
import ctypes
import heapq
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PG_SH = os.path.join(ROOT, "tests", "support", "pg.sh")

FAULT_KINDS = [
    "reboot",        # reader restarts: lock and match-data buffer gone, connections closed
    "hang",          # reader reads requests but never answers, 20 s
    "cut",           # close_mid_response 0.3 for 20 s
    "malformed",     # malformed_json 0.3 for 20 s
    "steal_lock",    # a third party takes the lock (PUT /1.0/lock) and releases it 20 s later
    "wipe_logs",     # the reader's logs are wiped, ids restart at 1
    "poison_log",    # the next recognition carries a defect: nul, year0 or huge
    "pg_restart",    # PostgreSQL stopped and started again
    "gateway_kill",  # SIGKILL of ef45-gatewayd, then started again (as systemd would)
]
FAULT_HOLD_S = 20          # how long a standing fault (hang, cut, malformed, stolen lock) lasts
SAMPLE_EVERY_S = 10        # RSS / fd sampling period
# The gateway keeps the newest events in memory for the event streams (api.stream_window,
# default 20,000 events): at 200 events/s that window fills in 100 s, and the RSS rises from
# ~65 MiB after one minute to ~93 MiB after two. No process is measured before it is this old.
WARMUP_S = 120
MIN_WINDOW_S = 30          # a process measured over less than this gives no growth figure
RSS_LIMIT_PCT = 10.0


sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "poll"))
from fleet_bench import data_keys_line  # noqa: E402  (the default: users encrypted at rest)


class SetupError(Exception):
    pass


class Interrupted(Exception):
    pass


def log(msg):
    print(f"[soak {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def die_with_parent():
    """preexec_fn: the child gets SIGTERM when the driver dies (even by SIGKILL, e.g. a CTest
    timeout), so no emulator or gateway outlives the run."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def http(port, method, path, body=None, timeout=10.0):
    """(status, parsed JSON or text) of a loopback request; status 0 when it failed."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        raw, status = e.read(), e.code
    except (OSError, urllib.error.URLError):
        return 0, None
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_proc(pid):
    """(RSS in KiB, open descriptors) of a live process, or None."""
    try:
        with open(f"/proc/{pid}/status") as f:
            rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        return rss, fds
    except (OSError, StopIteration, ValueError):
        return None


class Soak:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.build = os.path.abspath(args.build)
        self.sim_bin = os.path.join(self.build, "tools", "ef45-sim", "ef45-sim")
        self.gw_bin = os.path.join(self.build, "daemon", "ef45-gatewayd")
        self.psql = shutil.which("psql") or "/usr/lib/postgresql/15/bin/psql"
        self.kinds = [k for k in FAULT_KINDS if k not in args.skip]
        self.dir = None
        self.pg_dir = None
        self.pg_port = None
        self.db = "soak"
        self.sim = None
        self.gw = None
        self.gw_started_at = None
        self.control_port = None
        self.reader_ports = []
        self.api_port = None
        self.actions = []       # heap of (due, seq, description, fn)
        self.action_seq = 0
        self.bag = []           # fault kinds still to draw in this round
        self.busy_until = {}    # reader index -> time its standing fault ends
        self.injected = {k: 0 for k in FAULT_KINDS}
        self.samples = []       # (t, pid, rss_kb, fds)
        self.restarts = []      # times the gateway was started again after a SIGKILL
        self.started_pids = {}  # gateway pid -> its start time (s into the run)
        self.wipe_losses = {}   # reader -> [(epoch, cursor)] wipes done before it was drained
        self.notes = []
        self.t0 = None

    # ---- set-up -----------------------------------------------------------------------------

    def start(self):
        for path in (self.sim_bin, self.gw_bin):
            if not os.access(path, os.X_OK):
                raise SetupError(f"{path} is missing: build it (ninja -C {self.build} "
                                 "ef45-gatewayd ef45-sim) or pass --build DIR / BUILD_DIR")
        self.dir = tempfile.mkdtemp(prefix="ef45-soak.")
        os.chmod(self.dir, 0o755)  # pg.sh runs the server as `postgres` when we are root
        self.pg_dir = os.path.join(self.dir, "pg")
        self.start_pg()
        self.start_sim()
        self.write_config()
        self.start_gateway()

    def start_pg(self):
        r = subprocess.run([PG_SH, "start", self.pg_dir], capture_output=True, text=True)
        if r.returncode != 0:
            raise SetupError(f"pg.sh start failed: {r.stdout}{r.stderr}")
        with open(os.path.join(self.pg_dir, "env")) as f:
            for line in f:
                if line.startswith("export PGPORT="):
                    self.pg_port = int(line.split("=", 1)[1])
        if not self.pg_port:
            raise SetupError("pg.sh wrote no PGPORT")
        self.sql(f"CREATE DATABASE {self.db}", db="postgres")
        log(f"postgres on 127.0.0.1:{self.pg_port} ({self.pg_dir})")

    def sql(self, query, db=None):
        """Rows (lists of text) of one statement, through psql (no driver in the stdlib)."""
        r = subprocess.run(
            [self.psql, "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1",
             "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", "postgres",
             "-d", db or self.db, "-c", query],
            capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError(f"psql: {r.stderr.strip()} ({query[:80]})")
        return [line.split("\t") for line in r.stdout.splitlines() if line]

    def start_sim(self):
        ready = os.path.join(self.dir, "sim-ready.json")
        cmd = [self.sim_bin, "--readers", str(self.args.readers), "--rate", str(self.args.rate),
               "--base-port", "0", "--control-port", "0", "--ready-file", ready,
               "--seed", str(self.args.seed), "--log-level", "warn"]
        self.sim = subprocess.Popen(cmd, stdout=open(os.path.join(self.dir, "sim.log"), "ab"),
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    preexec_fn=die_with_parent)
        deadline = time.monotonic() + 30
        while not os.path.exists(ready):
            if self.sim.poll() is not None or time.monotonic() > deadline:
                raise SetupError("ef45-sim did not become ready:\n" + self.tail("sim.log"))
            time.sleep(0.05)
        with open(ready) as f:
            v = json.load(f)
        self.control_port = v["control_port"]
        self.reader_ports = [r["port"] for r in v["readers"]]
        log(f"ef45-sim: {len(self.reader_ports)} readers x {self.args.rate}/s, control port "
            f"{self.control_port}, seed {self.args.seed}")

    def write_config(self):
        self.api_port = free_port()
        lines = [
            f'database: {{ dsn: "host=127.0.0.1 port={self.pg_port} user=postgres '
            f'dbname={self.db}" }}',
            f'api: {{ listen: "127.0.0.1:{self.api_port}" }}',
            "shutdown: { deadline_ms: 10000 }",
            data_keys_line(self.dir),
            "readers:",
        ]
        for i, port in enumerate(self.reader_ports):
            lines.append(f"  - {{ id: sim-{i}, host: 127.0.0.1, port: {port} }}")
        self.config = os.path.join(self.dir, "gateway.yaml")
        with open(self.config, "w") as f:
            f.write("\n".join(lines) + "\n")

    def start_gateway(self):
        self.gw = subprocess.Popen([self.gw_bin, "run", "--config", self.config],
                                   stdout=open(os.path.join(self.dir, "gateway.log"), "ab"),
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   preexec_fn=die_with_parent)
        self.gw_started_at = time.monotonic()
        self.started_pids[self.gw.pid] = self.elapsed() if self.t0 else 0.0
        deadline = time.monotonic() + 60
        while http(self.api_port, "GET", "/readyz", timeout=2)[0] != 200:
            if self.gw.poll() is not None or time.monotonic() > deadline:
                raise SetupError("ef45-gatewayd did not become ready:\n" +
                                 self.tail("gateway.log"))
            time.sleep(0.1)

    def tail(self, name, lines=40):
        try:
            with open(os.path.join(self.dir, name), errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    # ---- clean-up ---------------------------------------------------------------------------

    def cleanup(self):
        for proc in (self.gw, self.sim):
            if proc and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        if self.pg_dir and os.path.isdir(self.pg_dir):
            subprocess.run([PG_SH, "stop", self.pg_dir], capture_output=True)
        if self.dir:
            if self.args.keep:
                log(f"kept {self.dir} (logs, config, database files)")
            else:
                shutil.rmtree(self.dir, ignore_errors=True)

    # ---- the run ----------------------------------------------------------------------------

    def elapsed(self):
        return time.monotonic() - self.t0

    def schedule(self, delay, description, fn):
        self.action_seq += 1
        heapq.heappush(self.actions, (time.monotonic() + delay, self.action_seq, description, fn))

    def run_due_actions(self, everything=False):
        while self.actions and (everything or self.actions[0][0] <= time.monotonic()):
            _, _, description, fn = heapq.heappop(self.actions)
            if self.args.verbose:
                log(f"  {description}")
            fn()

    def sample(self):
        if self.gw.poll() is not None:
            raise RuntimeError("ef45-gatewayd exited by itself:\n" + self.tail("gateway.log"))
        s = read_proc(self.gw.pid)
        if s:
            self.samples.append((self.elapsed(), self.gw.pid, s[0], s[1]))
            with open(os.path.join(self.dir, "samples.csv"), "a") as f:
                f.write(f"{self.elapsed():.1f},{self.gw.pid},{s[0]},{s[1]}\n")

    def run(self):
        duration = self.args.minutes * 60
        self.t0 = time.monotonic()
        next_fault = FAULT_HOLD_S + 10 if duration < 60 else 30
        next_sample = 0.0
        next_minute = 60
        while self.elapsed() < duration:
            now = self.elapsed()
            if now >= next_sample:
                self.sample()
                next_sample += SAMPLE_EVERY_S
            if now >= next_minute:
                self.progress(next_minute // 60)
                next_minute += 60
            self.run_due_actions()
            # Standing faults still on at the end are cleared before the drain (drain()).
            if now >= next_fault and self.kinds:
                self.inject()
                next_fault += self.args.interval
            due = min([next_sample, next_fault, next_minute, duration] +
                      ([self.actions[0][0] - self.t0] if self.actions else []))
            time.sleep(max(0.05, min(1.0, due - self.elapsed())))
        self.sample()

    def progress(self, minute):
        stored = self.sql("SELECT count(*) FROM events WHERE device_log_id IS NOT NULL")[0][0]
        last = self.samples[-1] if self.samples else None
        rss = f"{last[2] / 1024:.1f} MiB, {last[3]} fds" if last else "n/a"
        faults = sum(self.injected.values())
        log(f"minute {minute}: {stored} log events stored, gateway {rss}, {faults} faults")

    # ---- faults -----------------------------------------------------------------------------

    def pick_reader(self):
        now = time.monotonic()
        free = [i for i in range(len(self.reader_ports)) if self.busy_until.get(i, 0) <= now]
        return self.rng.choice(free or list(range(len(self.reader_ports))))

    def fault(self, reader, body):
        status, reply = http(self.control_port, "POST", f"/sim/readers/{reader}/faults", body)
        if status != 200:
            raise RuntimeError(f"fault {body} on reader {reader}: HTTP {status} {reply}")

    def next_kind(self):
        """Seeded draws from a shuffled bag of every kind not skipped: each kind comes once
        before any comes again, so a short run still sees as many different faults as it can."""
        if not self.bag:
            self.bag = list(self.kinds)
            self.rng.shuffle(self.bag)
        return self.bag.pop()

    def inject(self):
        kind = self.next_kind()
        reader = self.pick_reader()
        self.injected[kind] += 1
        hold = FAULT_HOLD_S
        what = f"{kind}"
        if kind == "reboot":
            self.fault(reader, {"reboot": True})
        elif kind == "hang":
            self.fault(reader, {"hang": True})
            self.schedule(hold, f"reader {reader}: hang cleared",
                          lambda r=reader: self.fault(r, {"hang": False}))
        elif kind == "cut":
            self.fault(reader, {"close_mid_response": 0.3})
            self.schedule(hold, f"reader {reader}: cut responses cleared",
                          lambda r=reader: self.fault(r, {"close_mid_response": 0}))
        elif kind == "malformed":
            self.fault(reader, {"malformed_json": 0.3})
            self.schedule(hold, f"reader {reader}: malformed JSON cleared",
                          lambda r=reader: self.fault(r, {"malformed_json": 0}))
        elif kind == "steal_lock":
            # A third party takes the lock through the reader API (PUT = steal) and gives it
            # back later with its own lock_uid, as another client would.
            status, reply = http(self.reader_ports[reader], "PUT", "/1.0/lock")
            uid = reply.get("lock_uid") if status == 200 and isinstance(reply, dict) else None
            if not uid:
                raise RuntimeError(f"steal lock of reader {reader}: HTTP {status} {reply}")
            self.schedule(hold, f"reader {reader}: stolen lock released",
                          lambda r=reader, u=uid: http(self.reader_ports[r], "DELETE",
                                                       f"/1.0/lock/{u}"))
        elif kind == "wipe_logs":
            hold = 0
            what += self.wipe(reader)
        elif kind == "poison_log":
            hold = 0
            defect = self.rng.choice(["nul", "year0", "huge"])
            self.fault(reader, {"poison_log": defect})
            what += f" {defect}"
        elif kind == "pg_restart":
            reader = None
            r = subprocess.run([PG_SH, "restart", self.pg_dir], capture_output=True, text=True)
            if r.returncode != 0:
                raise RuntimeError(f"pg.sh restart: {r.stdout}{r.stderr}")
        elif kind == "gateway_kill":
            reader = None
            self.sample()
            self.gw.send_signal(signal.SIGKILL)
            self.gw.wait()
            time.sleep(2)  # readers keep generating while nobody polls
            self.start_gateway()
            self.restarts.append(self.elapsed())
        if reader is not None and hold:
            self.busy_until[reader] = time.monotonic() + hold + 5
        if self.args.verbose:
            where = f" on reader {reader} (sim-{reader})" if reader is not None else ""
            log(f"t={self.elapsed():5.0f}s fault #{sum(self.injected.values())}: {what}{where}")

    def reader_drained(self, reader):
        status, r = http(self.control_port, "GET", f"/sim/readers/{reader}")
        if status != 200:
            return False, None
        try:
            rows = self.sql("SELECT log_epoch, last_log_id FROM device_cursors "
                            f"WHERE device_id = 'sim-{reader}'")
        except RuntimeError:
            return False, None
        cursor = (int(rows[0][0]), int(rows[0][1])) if rows else (0, 0)
        return r["match_pending"] == 0 and cursor[1] == r["last_log_id"], cursor

    def wipe(self, reader):
        """Wipes a reader's logs once the gateway has stored what it had (a log the gateway
        never read is lost by the wipe itself, not by the gateway). Generation pauses for it."""
        http(self.control_port, "POST", "/sim/generation/pause")
        try:
            deadline = time.monotonic() + 60
            drained, cursor = self.reader_drained(reader)
            while not drained and time.monotonic() < deadline:
                time.sleep(0.2)
                drained, cursor = self.reader_drained(reader)
            self.fault(reader, {"wipe_logs": True})
        finally:
            http(self.control_port, "POST", "/sim/generation/resume")
        if drained:
            return " (after the reader was drained)"
        # Entries above the cursor of the wiped epoch may be lost: allowed, counted apart.
        if cursor is None:
            raise RuntimeError(f"wipe of sim-{reader}: its cursor could not be read")
        self.wipe_losses.setdefault(reader, []).append(cursor)
        self.notes.append(f"wipe of sim-{reader} without a drain (60 s): its entries above "
                          f"cursor {cursor} may be missing")
        return " (NOT drained within 60 s)"

    # ---- the end ----------------------------------------------------------------------------

    def drain(self):
        """Clears every standing fault, pauses generation and waits until the gateway holds
        everything: each reader's match-data buffer is empty and its cursor is at the newest id."""
        self.run_due_actions(everything=True)
        http(self.control_port, "POST", "/sim/generation/pause")
        started = time.monotonic()
        deadline = started + self.args.drain_timeout
        pending = None
        while time.monotonic() < deadline:
            status, readers = http(self.control_port, "GET", "/sim/readers", timeout=30)
            if status == 200:
                cursors = {row[0]: int(row[1]) for row in
                           self.sql("SELECT device_id, last_log_id FROM device_cursors")}
                pending = [r["index"] for r in readers
                           if r["match_pending"] != 0 or
                           cursors.get(f"sim-{r['index']}", -1) != r["last_log_id"]]
                if not pending:
                    log(f"drained in {time.monotonic() - started:.0f} s")
                    return True, time.monotonic() - started
            self.sample()
            time.sleep(1)
        log(f"NOT drained after {self.args.drain_timeout} s: {len(pending or [])} readers behind, "
            f"e.g. {['sim-%d' % i for i in (pending or [])[:10]]}")
        return False, time.monotonic() - started

    def ledger(self, reader):
        items, after = [], 0
        while True:
            status, page = http(self.control_port, "GET",
                                f"/sim/readers/{reader}/generated?limit=10000&after={after}",
                                timeout=30)
            if status != 200:
                raise RuntimeError(f"ledger of reader {reader}: HTTP {status}")
            items.extend(page["items"])
            if not page["has_more"]:
                return items
            after = page["next"]

    def check_exactly_once(self):
        logs = {}
        for dev, epoch, log_id, n in self.sql(
                "SELECT device_id, log_epoch, device_log_id, count(*) FROM events "
                "WHERE device_log_id IS NOT NULL AND kind <> 'gap' GROUP BY 1, 2, 3"):
            logs.setdefault(dev, {})[(int(epoch), int(log_id))] = int(n)
        matches = {}
        for dev, enc, n in self.sql(
                "SELECT device_id, encounter_id, count(*) FROM events "
                "WHERE encounter_id IS NOT NULL AND encounter_id <> '' AND sources & 2 = 2 "
                "GROUP BY 1, 2"):
            matches.setdefault(dev, {})[enc] = int(n)
        r = dict(generated=0, stored=0, dup=0, missing=0, extra=0, wiped_unread=0,
                 match_generated=0, match_stored=0, match_dup=0, match_missing=0,
                 match_extra=0, match_dropped=0, poisoned=0)
        examples = []
        gap_rows = self.sql(
            "SELECT device_id, payload->>'log_epoch', payload->>'from_log_id', "
            "payload->>'to_log_id', info FROM events WHERE kind = 'gap'")
        gapped = {}
        for dev, epoch, lo, hi, _ in gap_rows:
            if epoch and lo and hi:
                gapped.setdefault(dev, set()).update(
                    (int(epoch), i) for i in range(int(lo), int(hi) + 1))
        ledgers = {}
        for i in range(len(self.reader_ports)):
            dev = f"sim-{i}"
            ledger = ledgers[i] = self.ledger(i)
            stored = logs.get(dev, {})
            gen = {(e["log_epoch"], e["log_id"]) for e in ledger}
            maybe_lost = set()
            for epoch, cursor in self.wipe_losses.get(i, []):
                maybe_lost |= {k for k in gen if k[0] == epoch and k[1] > cursor}
            # A `huge` entry the gateway recorded as a gap (see below) needs no row.
            maybe_lost |= {(e["log_epoch"], e["log_id"]) for e in ledger
                           if e.get("poison") == "huge"} & gapped.get(dev, set())
            r["generated"] += len(gen)
            r["stored"] += sum(stored.values())
            r["poisoned"] += sum(1 for e in ledger if "poison" in e)
            dup = sum(n - 1 for n in stored.values() if n > 1)
            missing = sorted(gen - maybe_lost - stored.keys())
            extra = sorted(stored.keys() - gen)
            r["wiped_unread"] += len(maybe_lost - stored.keys())  # wipes and huge gaps
            r["dup"] += dup
            r["missing"] += len(missing)
            r["extra"] += len(extra)
            if missing:
                examples.append(f"{dev}: {len(missing)} log entries missing, first "
                                f"(epoch, id) {missing[:5]}")
            if extra:
                examples.append(f"{dev}: {len(extra)} stored log entries never generated, "
                                f"first {extra[:5]}")
            if dup:
                examples.append(f"{dev}: {dup} duplicate log rows")

            want = {e["encounter_id"] for e in ledger
                    if e["encounter_id"] and not e.get("match_dropped")}
            dropped = {e["encounter_id"] for e in ledger
                       if e["encounter_id"] and e.get("match_dropped")}
            got = matches.get(dev, {})
            r["match_generated"] += len(want)
            r["match_dropped"] += len(dropped)
            r["match_stored"] += sum(got.values())
            mdup = sum(n - 1 for n in got.values() if n > 1)
            mmissing = want - got.keys()
            mextra = got.keys() - want - dropped
            r["match_dup"] += mdup
            r["match_missing"] += len(mmissing)
            r["match_extra"] += len(mextra)
            if mmissing:
                by_id = {e["encounter_id"]: e for e in ledger}
                first = sorted((by_id[m]["log_epoch"], by_id[m]["log_id"]) for m in mmissing)
                examples.append(f"{dev}: {len(mmissing)} match-data items missing, their log "
                                f"(epoch, id) {first[:5]}")
            if mextra:
                examples.append(f"{dev}: {len(mextra)} stored match items never generated")
            if mdup:
                examples.append(f"{dev}: {mdup} duplicate match-data rows")
        # A `huge` entry is larger than the client's page limit even alone: nothing of the log
        # entry can be read, so a gap naming its id is the designed outcome (its match-data
        # item still makes the row). Any other gap is a loss.
        huge = {(f"sim-{i}", e["log_epoch"], e["log_id"])
                for i, ledger in ledgers.items() for e in ledger if e.get("poison") == "huge"}
        r["gaps"], r["gaps_huge"] = 0, 0
        for dev, epoch, lo, hi, info in gap_rows:
            ids = range(int(lo), int(hi) + 1) if lo and hi else []
            if ids and all((dev, int(epoch), i) in huge for i in ids):
                r["gaps_huge"] += 1
            else:
                r["gaps"] += 1
                examples.append(f"{dev}: gap epoch {epoch} ids {lo}..{hi}: {info}")
        r["sanitized"] = int(self.sql(
            "SELECT count(*) FROM events WHERE payload ? 'sanitized'")[0][0])
        return r, examples

    def baseline_t(self):
        """Minute 5; a third of a run shorter than 6 minutes, but not inside the warm-up."""
        return 300 if self.args.minutes >= 6 else max(WARMUP_S, self.args.minutes * 60 / 3)

    def check_resources(self):
        """Growth of the gateway's RSS and descriptors over each process's measured window.

        The baseline is minute 5 (a third of the run when it is shorter than 6 minutes). A
        gateway SIGKILLed and restarted is a new process: it is measured from
        WARMUP_S after its start (or the baseline, if later) to its last sample.
        Every window of at least MIN_WINDOW_S counts; the last one is shown."""
        base_t = self.baseline_t()
        windows = []
        pids = []
        for s in self.samples:
            if s[1] not in pids:
                pids.append(s[1])
        for pid in pids:
            samples = [s for s in self.samples if s[1] == pid]
            start = max(base_t, self.started_pids.get(pid, 0) + WARMUP_S)
            measured = [s for s in samples if s[0] >= start]
            if len(measured) < 2 or measured[-1][0] - measured[0][0] < MIN_WINDOW_S:
                continue
            first, last = measured[0], measured[-1]
            # Descriptors move by one or two whenever a fault closes or reopens one of the 200
            # reader connections or a database connection, so one sample taken during a fault
            # is noise: the baseline is the highest count in the first part of the window (its
            # first minute, at most half of it), and a leak shows as an end above that.
            head = [x for x in measured
                    if x[0] - first[0] <= min(60, (last[0] - first[0]) / 2)]
            fd_base = max(x[3] for x in head)
            windows.append(dict(pid=pid, t0=first[0], t1=last[0], rss0=first[2], rss1=last[2],
                                fd0=fd_base, fd1=last[3],
                                pct=100.0 * (last[2] - first[2]) / first[2]))
        return base_t, windows

    def rss_by_minute(self):
        """`59 92 | 40 78 93`: the RSS (MiB) nearest each whole minute, then the last sample;
        `|` marks a gateway restart."""
        if not self.samples:
            return "n/a"
        picks = [min(self.samples, key=lambda x, t=m * 60: abs(x[0] - t))
                 for m in range(1, int(self.args.minutes) + 1)] + [self.samples[-1]]
        out, pid = [], picks[0][1]
        for _, p, rss, _ in picks:
            if p != pid:
                out.append("|")
                pid = p
            out.append(f"{rss / 1024:.0f}")
        return " ".join(out)

    def report(self, drained, drain_s, counts, examples, base_t, windows):
        c = counts
        rows = [
            ("minutes", f"{self.args.minutes:g} (+ {drain_s:.0f} s drain)"),
            ("readers", f"{len(self.reader_ports)} x {self.args.rate:g}/s, seed {self.args.seed}"),
            ("drained", "yes" if drained else "NO"),
            ("log entries generated", c["generated"]),
            ("log entries stored", c["stored"]),
            ("  of them poisoned (stored sanitised)", f"{c['poisoned']} generated, "
             f"{c['sanitized']} rows with payload.sanitized"),
            ("match items generated", f"{c['match_generated']} (+ {c['match_dropped']} "
             "dropped by a reader reboot, not expected)"),
            ("match items stored", c["match_stored"]),
            ("duplicates (logs / match)", f"{c['dup']} / {c['match_dup']}"),
            ("missing (logs / match)", f"{c['missing']} / {c['match_missing']}"),
            ("never generated (logs / match)", f"{c['extra']} / {c['match_extra']}"),
            ("allowed missing (undrained wipe, huge gap)", c["wiped_unread"]),
            ("gaps (kind='gap' rows)", f"{c['gaps'] + c['gaps_huge']} ({c['gaps_huge']} for "
             "'huge' entries over the page limit: expected)"),
        ]
        base_label = ("minute 5" if base_t == 300 else
                      f"{base_t:.0f} s (the run is shorter than 6 min: a third of it, at least "
                      f"the {WARMUP_S} s warm-up)")
        if windows:
            w = windows[-1]
            rows.append(("RSS baseline -> end",
                         f"{w['rss0'] / 1024:.1f} -> {w['rss1'] / 1024:.1f} MiB "
                         f"({w['pct']:+.1f} %), t={w['t0']:.0f}..{w['t1']:.0f} s"))
            rows.append(("fds baseline -> end", f"{w['fd0']} -> {w['fd1']} (baseline: the most "
                         "in the window's first minute, at most its first half)"))
            if len(windows) > 1:
                rows.append(("  earlier processes", "; ".join(
                    f"pid {x['pid']}: {x['pct']:+.1f} %, fds {x['fd0']}->{x['fd1']}"
                    for x in windows[:-1])))
        else:
            rows.append(("RSS / fds", f"no process lived {MIN_WINDOW_S} s past its baseline "
                         "(a SIGKILL too close to the end): not measured"))
        rows.append(("baseline", f"{base_label}; after a SIGKILL + restart, the new process "
                     f"from {WARMUP_S} s after its start (its own warm-up)"))
        rows.append(("RSS MiB at minute 1, 2, ... end", self.rss_by_minute()))
        rows.append(("gateway restarts (SIGKILL)", len(self.restarts)))
        rows.append(("faults injected", sum(self.injected.values())))
        for k in FAULT_KINDS:
            rows.append((f"  {k}", "skipped" if k in self.args.skip else self.injected[k]))

        failures = []
        if not drained:
            failures.append("not drained")
        if c["dup"] or c["match_dup"]:
            failures.append("duplicates")
        if c["missing"] or c["match_missing"]:
            failures.append("missing events")
        if c["extra"] or c["match_extra"]:
            failures.append("events never generated")
        if c["gaps"]:
            failures.append("gaps")
        if c["generated"] == 0 or c["match_generated"] == 0:
            failures.append("nothing generated")
        for w in windows:
            if w["pct"] >= RSS_LIMIT_PCT:
                failures.append(f"RSS +{w['pct']:.1f} % (pid {w['pid']})")
            if w["fd1"] > w["fd0"]:
                failures.append(f"fds {w['fd0']} -> {w['fd1']} (pid {w['pid']})")
        rows.append(("result", "PASS" if not failures else "FAIL: " + ", ".join(failures)))

        width = max(len(k) for k, _ in rows)
        print()
        print("=" * (width + 40))
        print("ef45-gateway soak")
        print("-" * (width + 40))
        for k, v in rows:
            print(f"{k:<{width}}  {v}")
        print("=" * (width + 40))
        for note in self.notes:
            print(f"note: {note}")
        for e in examples[:20]:
            print(f"detail: {e}")
        if len(examples) > 20:
            print(f"detail: ... and {len(examples) - 20} more")
        return not failures


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("minutes", nargs="?", type=float, default=60.0,
                   help="how long faults are injected (default 60)")
    p.add_argument("--seed", type=int, default=14, help="seed of the emulator and the faults")
    p.add_argument("--skip", default="", help="fault kinds to leave out, comma-separated: " +
                   ", ".join(FAULT_KINDS))
    p.add_argument("-v", "--verbose", action="store_true", help="print each fault")
    p.add_argument("--build", default=os.environ.get("BUILD_DIR", os.path.join(ROOT, "build")),
                   help="build directory (default $BUILD_DIR or build/)")
    p.add_argument("--readers", type=int, default=200)
    p.add_argument("--rate", type=float, default=1.0, help="recognitions per reader per second")
    p.add_argument("--interval", type=float, default=30.0, help="seconds between faults")
    p.add_argument("--drain-timeout", type=float, default=300.0)
    p.add_argument("--keep", action="store_true", help="keep the temp dir (logs, database)")
    args = p.parse_args()
    args.skip = {k for k in args.skip.split(",") if k}
    unknown = args.skip - set(FAULT_KINDS)
    if unknown:
        p.error(f"unknown fault kind(s) {sorted(unknown)}; known: {', '.join(FAULT_KINDS)}")
    if args.minutes <= 0:
        p.error("minutes must be positive")

    def interrupted(signum, _frame):
        raise Interrupted(signal.Signals(signum).name)

    signal.signal(signal.SIGINT, interrupted)
    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGHUP, interrupted)

    soak = Soak(args)
    try:
        soak.start()
        log(f"running {args.minutes:g} min, a fault every {args.interval:g} s from "
            f"{', '.join(soak.kinds) or 'none'}")
        soak.run()
        drained, drain_s = soak.drain()
        soak.sample()
        counts, examples = soak.check_exactly_once()
        base_t, windows = soak.check_resources()
        ok = soak.report(drained, drain_s, counts, examples, base_t, windows)
        if not ok:
            print("--- gateway log (last lines) ---\n" + soak.tail("gateway.log", 30))
        return 0 if ok else 1
    except Interrupted as e:
        log(f"interrupted ({e}), cleaning up")
        return 130
    except SetupError as e:
        log(f"set-up failed: {e}")
        return 2
    except Exception as e:  # noqa: BLE001 - report, clean up, fail
        log(f"error: {e}")
        if soak.dir:
            print("--- gateway log (last lines) ---\n" + soak.tail("gateway.log", 30))
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        soak.cleanup()


if __name__ == "__main__":
    sys.exit(main())
