#!/usr/bin/env python3
"""Webhook delivery benchmark (issue 19): commit -> receiver 2xx latency and the gateway's cost.

Starts a private PostgreSQL, ef45-sim (READERS x RATE recognitions/s) and ef45-gatewayd (users
encrypted at rest, the default), a receiver on loopback that checks every Standard Webhooks
signature and the seq order per subscription, then SUBS subscriptions (batch_max 1). After the
warm-up it measures, over the window: deliveries/s, the ef45gw_webhook_delivery_seconds
quantiles (commit -> 2xx, read off the histogram buckets: an upper bound), the gateway's CPU,
and any bad signature or out-of-order delivery (both must be 0).

With --outage N (catch-up mode) the receiver answers 503 to everything for N seconds after the
warm-up while events keep arriving, then 2xx again; it reports the backlog (sum of the
subscriptions' lag) when the receiver came back, the time until every subscription's lag is at
most --caught-up-lag, and the catch-up rate: events delivered per second over that time
(webhooks.max_backoff_ms is --max-backoff-ms there, so the first retry after the outage comes
within that).

usage: bench/webhooks/webhook_bench.py [--readers 20] [--rate 5] [--subs 5] [--batch-max 1]
                                      [--seconds 30] [--outage SECONDS]
The issue's load: --readers 200 --rate 5 --subs 10 (1,000 events/s into 10 subscriptions,
each getting every event: 10,000 deliveries/s); with --partition each subscription gets the
events of its tenth of the readers (a devices filter), so 1,000 deliveries/s in all. Its
catch-up case: the same with --outage 600.
"""
import argparse, base64, hashlib, hmac, json, os, re, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "poll"))
import fleet_bench as fb  # noqa: E402  (the same stack: PostgreSQL, ef45-sim, the gateway)


class Receiver:
    def __init__(self):
        self.secrets = {}  # path -> key bytes
        self.last = {}     # path -> last seq
        self.ok = self.bad_signature = self.out_of_order = 0
        self.events = 0      # events acknowledged (a batch counts its items)
        self.down = False    # answer 503 to everything (an outage)
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the gateway's client (and real receivers)

            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                msg_id = self.headers.get("webhook-id", "")
                ts = self.headers.get("webhook-timestamp", "")
                sigs = self.headers.get("webhook-signature", "").split()
                key = receiver.secrets.get(self.path)
                good = key is not None and any(
                    hmac.compare_digest(s.split(",", 1)[-1], base64.b64encode(hmac.new(
                        key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()).decode())
                    for s in sigs)
                m = re.match(r"evt_(?:\d+-)?(\d+)$", msg_id)  # a batch: evt_<first>-<last>
                if receiver.down:
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                with receiver.lock:
                    receiver.events += len(json.loads(body).get("items", [None]))
                    if not good:
                        receiver.bad_signature += 1
                    seq = int(m.group(1)) if m else -1
                    if seq <= receiver.last.get(self.path, -1):
                        receiver.out_of_order += 1  # a retry after a lost answer is allowed once
                    receiver.last[self.path] = max(seq, receiver.last.get(self.path, -1))
                    receiver.ok += 1
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def delivery_buckets(port):
    text = fb.http(f"http://127.0.0.1:{port}/metrics")
    buckets, delivered = {}, 0.0
    for line in text.splitlines():
        m = re.match(r'ef45gw_webhook_delivery_seconds_bucket\{le="([^"]+)"\} (\S+)', line)
        if m:
            buckets[m.group(1)] = float(m.group(2))
        if line.startswith("ef45gw_webhook_deliveries_total{") and 'result="success"' in line:
            delivered += float(line.rsplit(" ", 1)[1])
    return buckets, delivered


def total_lag(port):
    """The sum of every subscription's ef45gw_webhook_lag_events, and how many there are."""
    lags = [float(line.rsplit(" ", 1)[1])
            for line in fb.http(f"http://127.0.0.1:{port}/metrics").splitlines()
            if line.startswith("ef45gw_webhook_lag_events{")]
    return sum(lags), max(lags) if lags else 0.0, len(lags)


def catch_up(args, s, receiver):
    """The receiver answers 503 for args.outage seconds, then 2xx: time and rate to catch up."""
    print(f"outage: the receiver answers 503 for {args.outage}s", flush=True)
    receiver.down = True
    time.sleep(args.outage)
    backlog, _, _ = total_lag(s.api)
    c0, t0 = fb.cpu_seconds(s.gw.pid), time.time()
    _, _, _, i0 = fb.scrape(s.api)
    with receiver.lock:
        e0 = receiver.events
    receiver.down = False
    deadline = t0 + args.catch_up_limit
    caught = None
    while time.time() < deadline:
        time.sleep(0.2)
        _, worst, n = total_lag(s.api)
        if n == args.subs and worst <= args.caught_up_lag:
            caught = time.time()
            break
    t1 = caught or time.time()
    c1 = fb.cpu_seconds(s.gw.pid)
    _, _, _, i1 = fb.scrape(s.api)
    with receiver.lock:
        e1 = receiver.events
    wall = t1 - t0
    print(f"\nef45-gatewayd webhook catch-up benchmark — {fb.machine()}")
    print(f"readers={args.readers} rate={args.rate}/s/reader subscriptions={args.subs} "
          f"batch_max={args.batch_max} partition={args.partition} outage={args.outage}s (receiver answering 503) "
          f"max_backoff_ms={args.max_backoff_ms}; gateway, ef45-sim, receiver and PostgreSQL on "
          "the same machine\n")
    rows = [
        # ef45gw_webhook_lag_events counts seqs, matching or not: with --partition a tenth of it
        # is each subscription's.
        ("backlog when the receiver came back (sum of lag, in seqs)", f"{backlog:.0f}"),
        ("events committed/s meanwhile", f"{(i1 - i0) / wall:.1f}"),
        (f"seconds until every lag <= {args.caught_up_lag}",
         f"{wall:.1f}" if caught else f"not within {args.catch_up_limit}s"),
        ("catch-up rate: events delivered/s (all subs)", f"{(e1 - e0) / wall:.1f}"),
        ("catch-up rate per subscription (events/s)", f"{(e1 - e0) / wall / args.subs:.1f}"),
        ("gateway CPU per delivered event (us, polling included)",
         f"{1e6 * (c1 - c0) / max(1, e1 - e0):.1f}"),
        ("receiver: bad signatures / out of order", f"{receiver.bad_signature} / "
                                                    f"{receiver.out_of_order}"),
    ]
    print(f"{'metric':<58} value")
    for k, v in rows:
        print(f"{k:<58} {v}")
    return 0 if caught and receiver.bad_signature == 0 else 1


def quantile(b0, b1, q):
    """Upper bound of the bucket holding quantile q of the observations between two scrapes."""
    bounds = sorted((float("inf") if k == "+Inf" else float(k), k) for k in b1)
    total = b1.get("+Inf", 0) - b0.get("+Inf", 0)
    if total <= 0:
        return float("nan")
    for value, key in bounds:
        if b1[key] - b0.get(key, 0) >= q * total:
            return value
    return float("inf")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(fb.ROOT, "build"))
    ap.add_argument("--readers", type=int, default=20)
    ap.add_argument("--rate", type=float, default=5.0)
    ap.add_argument("--subs", type=int, default=5)
    ap.add_argument("--batch-max", type=int, default=1)
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--partition", action="store_true",
                    help="subscription i gets the readers whose index %% subs == i only")
    ap.add_argument("--outage", type=int, default=0,
                    help="catch-up mode: seconds the receiver answers 503 (the issue: 600)")
    ap.add_argument("--max-backoff-ms", type=int, default=5000,
                    help="webhooks.max_backoff_ms in catch-up mode")
    ap.add_argument("--caught-up-lag", type=int, default=100,
                    help="caught up: every subscription's lag at most this many events")
    ap.add_argument("--catch-up-limit", type=int, default=1800,
                    help="give up catching up after this many seconds")
    args = ap.parse_args()
    receiver = Receiver()
    s = fb.Stack(args)
    try:
        s.start(args.readers, args.rate)
        with open(os.path.join(s.dir, "gw.yaml"), "a") as f:
            backoff = f", max_backoff_ms: {args.max_backoff_ms}" if args.outage else ""
            f.write(f"webhooks: {{ allow: [127.0.0.1/32]{backoff} }}\n")
        s.start_gateway()
        for i in range(args.subs):
            path = f"/hook/{i}"
            spec = {"url": f"http://127.0.0.1:{receiver.port}{path}", "batch_max": args.batch_max}
            if args.partition:
                spec["devices"] = [f"sim-{r:04d}" for r in range(i, args.readers, args.subs)]
            body = json.dumps(spec)
            req = fb.urllib.request.Request(f"http://127.0.0.1:{s.api}/api/v1/webhooks",
                                            data=body.encode(), method="POST",
                                            headers={"Content-Type": "application/json"})
            with fb.urllib.request.urlopen(req, timeout=10) as r:
                secret = json.loads(r.read())["secret"]
            receiver.secrets[path] = base64.b64decode(secret.split("_", 1)[1])
        time.sleep(args.warmup)
        if args.outage:
            return catch_up(args, s, receiver)
        b0, d0 = delivery_buckets(s.api)
        c0, t0 = fb.cpu_seconds(s.gw.pid), time.time()
        _, _, _, i0 = fb.scrape(s.api)
        time.sleep(args.seconds)
        b1, d1 = delivery_buckets(s.api)
        c1, t1 = fb.cpu_seconds(s.gw.pid), time.time()
        _, _, _, i1 = fb.scrape(s.api)
        wall = t1 - t0
        print(f"\nef45-gatewayd webhook benchmark — {fb.machine()}")
        print(f"readers={args.readers} rate={args.rate}/s/reader subscriptions={args.subs} "
              f"batch_max={args.batch_max} partition={args.partition} window={args.seconds}s (after {args.warmup}s warm-up); gateway, "
              "ef45-sim, receiver and PostgreSQL on the same machine\n")
        rows = [
            ("events committed/s", f"{(i1 - i0) / wall:.1f}"),
            ("webhook deliveries (2xx)/s", f"{(d1 - d0) / wall:.1f}"),
            ("commit -> 2xx p50 (s, bucket bound)", f"{quantile(b0, b1, 0.50):g}"),
            ("commit -> 2xx p99 (s, bucket bound)", f"{quantile(b0, b1, 0.99):g}"),
            ("gateway CPU (cores, polling included)", f"{(c1 - c0) / wall:.3f}"),
            ("gateway CPU per delivery request (us, polling included)",
             f"{1e6 * (c1 - c0) / max(1.0, d1 - d0):.1f}"),
            ("receiver: bad signatures / out of order", f"{receiver.bad_signature} / "
                                                        f"{receiver.out_of_order}"),
        ]
        print(f"{'metric':<45} value")
        for k, v in rows:
            print(f"{k:<45} {v}")
        return 0 if receiver.bad_signature == 0 else 1
    finally:
        s.stop()
        receiver.server.shutdown()


if __name__ == "__main__":
    sys.exit(main())
