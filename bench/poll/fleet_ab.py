#!/usr/bin/env python3
"""Two builds of the gateway, alternated: which is cheaper at the same fleet (issue 18).

On this project's VM one build's fleet CPU moves by +-0.02 cores from run to run and by more
over a day (neighbours, the kernel's share), which hides a change of a few per cent. Runs taken
in turn, A B A B ..., see the same machine; the medians and each run's user/kernel split are
printed. Every argument after the two build directories goes to fleet_bench.py. --env-a and
--env-b give one side's gateway extra environment (fleet_bench.py's GW_ENV), so one build can be
compared with itself under another setting (e.g. GLIBC_TUNABLES); --yaml-a and --yaml-b give one
side's gateway a config file of extra keys (fleet_bench.py's --extra-yaml), e.g. sync switched off.

  bench/poll/fleet_ab.py /tmp/base/build build --runs 3 -- --readers 1000 --rate 1 --seconds 60
"""
import argparse, os, re, statistics, subprocess, sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROWS = {
    "cpu": r"gateway CPU \(cores\)\s+([\d.]+)",
    "user": r"gateway CPU user / kernel \(cores\)\s+([\d.]+) /",
    "kernel": r"gateway CPU user / kernel \(cores\)\s+[\d.]+ /\s+([\d.]+)",
    "io_thread": r"gateway CPU main \(io\) thread / others\s+([\d.]+) /",
    "others": r"gateway CPU main \(io\) thread / others\s+[\d.]+ /\s+([\d.]+)",
    "per_sim": r"gateway CPU / ef45-sim CPU\s+([\d.]+)",
    "peak_mb": r"gateway RSS now / peak \(MB\)\s+[\d.]+ /\s+([\d.]+)",
    "window_peak_mb": r"gateway RSS peak start-up / in window \(MB\)\s+[\d.]+ /\s+([\d.]+)",
    "ctx_per_poll": r"context switches per poll\s+([\d.]+)",
    "lag_p50": r"committed p50 \(s\)\s+([\d.]+)",
}
ON_TIME = r"(door|match|logs) polls within 10% of interval\s+([\d.]+)%"


def run(build, extra, gw_env, yaml):
    env = dict(os.environ, GW_ENV=gw_env) if gw_env else None
    if yaml:
        extra = [*extra, "--extra-yaml", yaml]
    out = subprocess.run([sys.executable, os.path.join(HERE, "fleet_bench.py"), "fleet",
                          "--build", build, *extra], capture_output=True, text=True, env=env)
    if out.returncode != 0:
        sys.exit(f"fleet_bench.py failed for {build}:\n{out.stdout}\n{out.stderr}")
    row = {k: float(re.search(p, out.stdout).group(1)) for k, p in ROWS.items()}
    row["on_time_min"] = min(float(m[1]) for m in re.findall(ON_TIME, out.stdout))
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("a", help="build directory A (e.g. the base)")
    ap.add_argument("b", help="build directory B")
    ap.add_argument("--runs", type=int, default=3, help="runs of each, alternated")
    ap.add_argument("--env-a", default="", help="GW_ENV for A's gateway (KEY=VALUE ...)")
    ap.add_argument("--env-b", default="", help="GW_ENV for B's gateway: one build, two settings")
    ap.add_argument("--yaml-a", default="", help="extra config keys (a YAML file) for A's gateway")
    ap.add_argument("--yaml-b", default="", help="extra config keys (a YAML file) for B's gateway")
    # Anything else (after an optional --) is fleet_bench.py's.
    args, extra = ap.parse_known_args()
    extra = [a for a in extra if a != "--"]
    results = {"A": [], "B": []}
    for i in range(args.runs):
        for name, build, gw_env, yaml in (("A", args.a, args.env_a, args.yaml_a),
                                          ("B", args.b, args.env_b, args.yaml_b)):
            r = run(build, extra, gw_env, yaml)
            results[name].append(r)
            print(f"run {i + 1} {name}: " + "  ".join(f"{k} {v:g}" for k, v in r.items()),
                  flush=True)
    print(f"\nmedians of {args.runs} alternated runs (A = {args.a}, B = {args.b}):")
    print(f"{'':14}{'A':>10}{'B':>10}{'B/A':>8}")
    for key in list(ROWS) + ["on_time_min"]:
        a = statistics.median(r[key] for r in results["A"])
        b = statistics.median(r[key] for r in results["B"])
        print(f"{key:14}{a:>10.3f}{b:>10.3f}{(b / a if a else 0):>8.3f}")


if __name__ == "__main__":
    main()
