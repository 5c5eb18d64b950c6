#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The vsock-switch authors
"""
Run the vsock-switch benchmark suite from one command and draw it.

Runs <builddir>/app/vsock-bench (built beforehand: this script builds nothing)
with --json, keeps its tables, then draws with gnuplot (Debian: gnuplot-nox):

  throughput.png  guest-to-guest STREAM MB/s against write size, next to the
                  same-run memcpy baseline and the worker's estimated capacity;
                  host path and AF_UNIX socket pair at 64 KiB
  latency.png     64 B ping-pong RTT distribution, and RTT and worker round
                  time against the number of idle guests
  scaling.png     aggregate throughput against busy connections

With --profile SCENARIO it also samples the switch's worker CPU with
'perf record -e cpu-clock' while that scenario runs, and writes the top
functions (perf report) next to the plots.

Examples:
  usertools/vs-bench.py                      # full suite, 5 runs, into bench-out/
  usertools/vs-bench.py -b build -o /tmp/b --runs 3 --duration 0.5
  usertools/vs-bench.py --plot-only bench-out/vsock-bench.json
  usertools/vs-bench.py --profile stream -- --sizes 65536
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time


def sh(cmd, **kw):
    return subprocess.run(cmd, check=False, **kw)


def run_bench(args, outdir, extra):
    exe = os.path.join(args.builddir, "app", "vsock-bench")
    if not os.access(exe, os.X_OK):
        sys.exit("vs-bench: %s not found: build first (ninja -C %s)" % (exe, args.builddir))
    js = os.path.join(outdir, "vsock-bench.json")
    cmd = [exe, "--json", js, "--runs", str(args.runs), "--duration", str(args.duration)]
    if args.scenario:
        cmd += ["--scenario", args.scenario]
    cmd += extra
    print("vs-bench: load average before: %.2f %.2f %.2f" % os.getloadavg())
    print("vs-bench: " + " ".join(cmd), flush=True)
    with open(os.path.join(outdir, "vsock-bench.txt"), "w") as log:
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in p.stdout:
            sys.stdout.write(line)
            log.write(line)
        rc = p.wait()
    print("vs-bench: load average after: %.2f %.2f %.2f" % os.getloadavg())
    if rc != 0:
        print("vs-bench: vsock-bench exited with status %d" % rc)
    return js, rc


def profile(args, outdir, extra):
    """perf record of the switch's worker thread while one scenario runs."""
    perf = shutil.which("perf")
    if perf is None:
        print("vs-bench: no perf; use valgrind --tool=callgrind on the switch instead")
        return
    exe = os.path.join(args.builddir, "app", "vsock-bench")
    data = os.path.join(outdir, "perf-%s.data" % args.profile)
    secs = max(4.0, args.duration * 4)
    bench = subprocess.Popen([exe, "-v", "--runs", "1", "--duration", str(secs),
                              "--scenario", args.profile] + extra,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out, rec = [], None
    for line in bench.stdout:
        out.append(line)
        if rec is None and "switch pid" in line:
            pid = line.split("switch pid")[1].split(",")[0].strip()
            # past set-up, calibration and warm-up: inside the first measurement
            time.sleep(1.5)
            rec = subprocess.Popen([perf, "record", "-q", "-e", "cpu-clock", "-g",
                                    "--call-graph", "dwarf,16384", "-p", pid, "-o", data,
                                    "--", "sleep", str(secs * 0.5)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                   text=True)
    bench.wait()
    with open(os.path.join(outdir, "profile-%s-bench.txt" % args.profile), "w") as f:
        f.write("".join(out))
    if rec is None:
        print("vs-bench: the scenario started no switch; nothing profiled")
        return
    _, err = rec.communicate()
    if rec.returncode != 0:
        print("vs-bench: perf record failed: %s" % err.strip())
        return
    path = os.path.join(outdir, "profile-%s.txt" % args.profile)
    with open(path, "w") as f:
        for title, opts in (("self", ["--no-children"]), ("with callees", ["--children"])):
            rep = sh([perf, "report", "-i", data, "--stdio", "--comms", args.worker_comm,
                      "--percentage", "relative", "--sort", "symbol", "-g", "none",
                      "--percent-limit", "0.7"] + opts,
                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            lines = [l.rstrip() for l in rep.stdout.splitlines()
                     if l.strip() and not l.startswith("#")]
            f.write("== worker thread, %s ==\n" % title + "\n".join(lines) + "\n\n")
            print("vs-bench: worker thread while '%s' ran, %s (%s):"
                  % (args.profile, title, path))
            for l in lines[:14]:
                print("  " + l.strip())


# ---- plots ----

def metrics(d):
    return {m["name"]: m for m in d["metrics"]}


def stat(m):
    v = [x for x in m["values"] if x is not None]
    if not v:
        return None
    v.sort()
    k = len(v)
    med = v[k // 2] if k % 2 else (v[k // 2 - 1] + v[k // 2]) / 2
    return med, v[0], v[-1]


def capacity(m):
    v = [x / l for x, l in zip(m["values"], m["worker_load"])
         if x is not None and l is not None and l > 0.01]
    if not v:
        return None
    v.sort()
    return v[len(v) // 2], v[0], v[-1]


def size_label(s):
    return "%dk" % (s // 1024) if s >= 1024 and s % 1024 == 0 else str(s)


def gnuplot(script, outdir, name):
    gp = shutil.which("gnuplot")
    if gp is None:
        print("vs-bench: gnuplot not found (Debian: apt-get install gnuplot-nox); "
              "no %s" % name)
        return None
    path = os.path.join(outdir, name + ".gp")
    with open(path, "w") as f:
        f.write(script)
    r = sh([gp, path], cwd=outdir, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        print("vs-bench: gnuplot %s: %s" % (name, r.stderr.strip()))
        return None
    return os.path.join(outdir, name + ".png")


def write_dat(outdir, name, rows):
    with open(os.path.join(outdir, name), "w") as f:
        for r in rows:
            f.write(" ".join(str(x) for x in r) + "\n")


def title(d):
    return "%s, %d CPUs, %s, %d run(s)" % (d["machine"]["cpu"], d["machine"]["cpus"],
                                           d["started"][:16], d["runs_done"])


def plot_throughput(d, outdir):
    ms = metrics(d)
    g2g, mc, cap, xc = [], [], [], []
    for name, m in sorted(ms.items(), key=lambda kv: kv[1]["size"]):
        if name.startswith("g2g_stream_") and stat(m):
            s = stat(m)
            g2g.append((m["size"], '"%s"' % size_label(m["size"]), s[0], s[1], s[2]))
            c = capacity(m)
            if c:
                cap.append((m["size"], c[0], c[1], c[2]))
        if name.startswith("memcpy_xcore_") and stat(m):
            s = stat(m)
            xc.append((m["size"], s[0], s[1], s[2]))
        elif name.startswith("memcpy_") and stat(m):
            s = stat(m)
            mc.append((m["size"], s[0], s[1], s[2]))
    host = []
    for name, lab in (("socketpair_64k", "AF_UNIX pair"), ("host_h2g_64k", "host->guest"),
                      ("host_g2h_64k", "guest->host")):
        if name in ms and stat(ms[name]):
            s = stat(ms[name])
            host.append(('"%s"' % lab, s[0], s[1], s[2]))
    if not g2g and not mc:
        return None
    write_dat(outdir, "g2g.dat", g2g)
    write_dat(outdir, "memcpy.dat", mc)
    write_dat(outdir, "capacity.dat", cap)
    write_dat(outdir, "xcore.dat", xc)
    write_dat(outdir, "host.dat", host)
    plots = []
    if mc:
        plots.append("'memcpy.dat' u 1:2:3:4 w yerrorlines lw 2 pt 7 t 'memcpy, same working set (1 copy/byte)'")
    if xc:
        plots.append("'xcore.dat' u 1:2:3:4 w yerrorlines lw 2 pt 13 t 'memcpy on the other CPU, data from/to this one'")
    if g2g:
        plots.append("'g2g.dat' u 1:3:4:5:xtic(2) w yerrorlines lw 2 pt 5 t 'guest->guest STREAM (measured)'")
    if cap:
        plots.append("'capacity.dat' u 1:2:3:4 w yerrorlines dt 2 lw 2 pt 9 t 'worker capacity (measured / worker load)'")
    script = """set terminal pngcairo size 1200,500 font ',10' noenhanced
set output 'throughput.png'
set multiplot layout 1,2 title "vsock-switch throughput: %s"
set logscale xy
set xrange [40:100000]
set xlabel 'write size (bytes)'
set ylabel 'MB/s (median, bars: min-max)'
set key bottom right
set grid
plot %s
unset logscale
set logscale y
set xrange [-0.5:%g]
set style data histogram
set style histogram errorbars gap 1 lw 1
set style fill solid 0.6
set xlabel '64 KiB writes'
set title 'host path vs AF_UNIX socket pair'
unset key
plot 'host.dat' u 2:3:4:xtic(1) t ''
unset multiplot
""" % (title(d), ", ".join(plots), max(len(host), 1) - 0.5 + 0.0)
    return gnuplot(script, outdir, "throughput")


def plot_latency(d, outdir):
    ms = metrics(d)
    cdf = d.get("rtt_cdf") or []
    idle = []
    for name, m in ms.items():
        if name.startswith("idle_rtt_p50_"):
            n = m["guests"]
            p50 = stat(m)
            p99 = stat(ms.get("idle_rtt_p99_%d" % n, {"values": []}))
            rnd = stat(ms.get("idle_round_%d" % n, {"values": []}))
            if p50:
                idle.append((n, p50[0], p99[0] if p99 else "NaN", rnd[0] if rnd else "NaN"))
    idle.sort()
    if not cdf and not idle:
        return None
    write_dat(outdir, "rtt_cdf.dat", [(us, p) for p, us in cdf if us is not None])
    write_dat(outdir, "idle.dat", idle)
    p = {k: stat(ms[k]) for k in ("g2g_rtt_p50", "g2g_rtt_p99", "g2g_rtt_p999") if k in ms}
    sub = ", ".join("%s %.2f us" % (k[8:], v[0]) for k, v in p.items() if v)
    script = """set terminal pngcairo size 1200,500 font ',10' noenhanced
set output 'latency.png'
set multiplot layout 1,2 title "vsock-switch 64 B ping-pong round trip: %s"
set title 'RTT distribution, 2 guests (last run): %s'
set logscale xy
set xlabel 'round trip (us)'
set ylabel 'percentile'
set yrange [100:0.005]
set ytics ("p0" 100, "p50" 50, "p90" 10, "p99" 1, "p99.9" 0.1, "p99.99" 0.01)
set grid
set key top right
set arrow from 10, graph 0 to 10, graph 1 nohead dt 2 lc rgb 'red'
set label 'target p99 < 10 us' at 10.5, 50
plot 'rtt_cdf.dat' u 1:(100 - $2 > 0 ? 100 - $2 : NaN) w linespoints pt 7 lw 2 t 'RTT'
unset arrow
unset label
set ytics auto
set autoscale y
set title 'cost of idle guests'
set logscale x
set xlabel 'guests on the worker (2 in ping-pong, the rest idle)'
set ylabel 'RTT (us)'
set autoscale y
set logscale y
set y2label 'worker round (ns)'
set y2tics
set logscale y2
set key top left
plot 'idle.dat' u 1:2 w linespoints pt 7 lw 2 t 'RTT p50', \\
     'idle.dat' u 1:3 w linespoints pt 5 lw 2 t 'RTT p99', \\
     'idle.dat' u 1:4 axes x1y2 w linespoints pt 9 dt 2 lw 2 t 'worker round time (right)'
unset multiplot
""" % (title(d), sub)
    return gnuplot(script, outdir, "latency")


def plot_scaling(d, outdir):
    rows = []
    for name, m in metrics(d).items():
        if name.startswith("scale_") and stat(m):
            s = stat(m)
            c = capacity(m)
            rows.append((int(name[6:]), s[0], s[1], s[2], c[0] if c else "NaN"))
    rows.sort()
    if not rows:
        return None
    write_dat(outdir, "scaling.dat", rows)
    script = """set terminal pngcairo size 800,500 font ',10' noenhanced
set output 'scaling.png'
set title "busy connections (guest i -> guest i+1, 4 KiB writes)\\n%s"
set logscale x
set xlabel 'busy connections (= guests)'
set ylabel 'aggregate MB/s'
set grid
set key bottom left
plot 'scaling.dat' u 1:2:3:4 w yerrorlines lw 2 pt 7 t 'measured', \\
     'scaling.dat' u 1:5 w linespoints dt 2 pt 9 t 'worker capacity (measured / load)'
""" % title(d)
    return gnuplot(script, outdir, "scaling")


def summary(d):
    print("\nvs-bench: targets (issue 6), medians of %d run(s):" % d["runs_done"])
    for m in d["metrics"]:
        t = m["target"]
        if t["kind"] == "none":
            continue
        if t["kind"] == "ratio_min":
            r = [x for x in m["ratios"] if x is not None]
            if not r:
                print("  %-22s ratio to %s: not measured" % (m["name"], m["baseline"]))
                continue
            r.sort()
            x = r[len(r) // 2]
            print("  %-22s %.3f of %s (target >= %.1f): %s" % (
                m["name"], x, m["baseline"], t["value"], "met" if x >= t["value"] else "MISSED"))
        else:
            s = stat(m)
            if not s:
                print("  %-22s not measured" % m["name"])
                continue
            ok = s[0] >= t["value"] if t["kind"] == "min" else s[0] < t["value"]
            print("  %-22s %.4g %s (target %s %g): %s" % (
                m["name"], s[0], m["unit"], ">=" if t["kind"] == "min" else "<", t["value"],
                "met" if ok else "MISSED"))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-b", "--builddir", default="build", help="meson build directory")
    ap.add_argument("-o", "--outdir", default="bench-out", help="results and plots")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--duration", type=float, default=1.0, help="seconds per measurement")
    ap.add_argument("--scenario", help="comma-separated subset (vsock-bench --help)")
    ap.add_argument("--plot-only", metavar="JSON", help="draw an existing result file")
    ap.add_argument("--profile", metavar="SCENARIO",
                    help="perf-record the worker CPU during one scenario, then stop")
    ap.add_argument("--worker-cpu", type=int, default=1, help="CPU of the worker lcore")
    ap.add_argument("--worker-comm", default="rte-worker-1",
                    help="thread name of the worker lcore (DPDK 22.11: rte-worker-<lcore>)")
    ap.add_argument("extra", nargs="*", help="after --: more vsock-bench options")
    args = ap.parse_args()
    os.makedirs(args.outdir, exist_ok=True)
    rc = 0
    if args.profile:
        profile(args, args.outdir, args.extra)
        return 0
    if args.plot_only:
        js = args.plot_only
    else:
        js, rc = run_bench(args, args.outdir, args.extra)
    try:
        with open(js) as f:
            d = json.load(f)
    except (OSError, ValueError) as e:
        sys.exit("vs-bench: no results: %s" % e)
    outdir = args.outdir if not args.plot_only else os.path.dirname(os.path.abspath(js))
    for fn in (plot_throughput, plot_latency, plot_scaling):
        p = fn(d, outdir)
        if p:
            print("vs-bench: wrote %s" % p)
    summary(d)
    return rc


if __name__ == "__main__":
    sys.exit(main())
