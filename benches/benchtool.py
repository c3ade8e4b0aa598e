#!/usr/bin/env python3
"""Measuring helpers for benches/compare.sh.

compare.sh (and transfer.sh and tls.sh) own the run order and the server lifecycles; this file owns
everything that needs arithmetic or a DNS packet: free loopback ports, the seeded query file,
readiness and startup probes, per-round measurement (server CPU from /proc, dnsperf's
statistics, latency percentiles, memory), the cross-server answer check, the final report, for
transfer.sh a TSIG-signed zone transfer client and its report, and tls.sh's report.

Only the Python standard library is used, so the script runs on a bare Debian machine.
"""

import argparse
import base64
import json
import os
import random
import re
import resource
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

PROTOCOLS = ("tcp", "udp", "sctp", "dccp")
TYPE_TXT = 16
RCODE_NAMES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}

# Ports people actually look up; the query mix leans on them the way real traffic would.
COMMON_PORTS = (
    20, 21, 22, 23, 25, 53, 67, 68, 69, 80, 88, 110, 123, 135, 137, 139, 143, 161, 179, 389,
    443, 445, 465, 500, 514, 587, 631, 636, 853, 873, 993, 995, 1194, 1433, 1812, 2049, 3306,
    3389, 4500, 5060, 5353, 5432, 5900, 6379, 6443, 8080, 8443, 9090, 9200, 11211, 27017, 51820,
)
COMMON_SERVICES = (
    "http", "https", "ssh", "domain", "smtp", "submission", "imap", "imaps", "pop3", "ntp",
    "snmp", "ldap", "ldaps", "mysql", "postgresql", "ms-wbt-server", "sip", "kerberos", "bgp",
    "telnet", "ftp", "rsync", "nfs", "ipp", "openvpn", "isakmp", "syslog", "microsoft-ds",
)


# ---------------------------------------------------------------------------------------------
# DNS packets (just enough to ask one question and compare answers)


def encode_query(qname, qtype=TYPE_TXT, ident=0, edns_size=1232):
    header = struct.pack("!HHHHHH", ident, 0x0000, 1, 0, 0, 1 if edns_size else 0)
    labels = b"".join(
        bytes([len(label)]) + label.encode("ascii") for label in qname.rstrip(".").split(".")
    )
    question = labels + b"\x00" + struct.pack("!HH", qtype, 1)
    opt = b"\x00" + struct.pack("!HHIH", 41, edns_size, 0, 0) if edns_size else b""
    return header + question + opt


def skip_name(packet, offset):
    while True:
        length = packet[offset]
        if length & 0xC0 == 0xC0:
            return offset + 2
        offset += 1
        if length == 0:
            return offset
        offset += length


def decode_answer(packet):
    """Rcode, TC flag and the answer section as a sorted list of (type, rdata hex)."""
    ident, flags, qdcount, ancount, _, _ = struct.unpack_from("!HHHHHH", packet)
    offset = 12
    for _ in range(qdcount):
        offset = skip_name(packet, offset) + 4
    records = []
    for _ in range(ancount):
        offset = skip_name(packet, offset)
        rtype, _, _, rdlength = struct.unpack_from("!HHIH", packet, offset)
        offset += 10
        records.append((rtype, packet[offset : offset + rdlength].hex()))
        offset += rdlength
    return {"id": ident, "rcode": flags & 0x000F, "tc": bool(flags & 0x0200), "answers": sorted(records)}


def ask_udp(port, qname, qtype, timeout):
    ident = random.randrange(65536)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(encode_query(qname, qtype, ident, edns_size=4096), ("127.0.0.1", port))
        deadline = time.monotonic() + timeout
        while True:
            sock.settimeout(max(deadline - time.monotonic(), 0.0001))
            packet = sock.recv(65535)
            answer = decode_answer(packet)
            if answer["id"] == ident:
                return answer


def ask_tcp(port, qname, qtype, timeout):
    message = encode_query(qname, qtype, edns_size=4096)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(struct.pack("!H", len(message)) + message)
        length = struct.unpack("!H", recv_exactly(sock, 2))[0]
        return decode_answer(recv_exactly(sock, length))


def recv_exactly(sock, count):
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise ConnectionError("server closed the connection")
        data += chunk
    return data


def ask(port, qname, qtype=TYPE_TXT, timeout=2.0):
    answer = ask_udp(port, qname, qtype, timeout)
    if answer["tc"]:
        answer = ask_tcp(port, qname, qtype, timeout)
    return answer


def answered(port, qname, timeout):
    """True once the server gives a NOERROR answer with records."""
    try:
        answer = ask_udp(port, qname, TYPE_TXT, timeout)
    except OSError:
        return False
    return answer["rcode"] == 0 and (answer["answers"] or answer["tc"])


# ---------------------------------------------------------------------------------------------
# /proc


def process_tree(root):
    """The root pid and all its descendants (NSD forks its server and xfrd processes)."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    tree, pending = [], [root]
    while pending:
        pid = pending.pop()
        tree.append(pid)
        pending.extend(children.get(pid, []))
    return tree


def live_group_members(pgid):
    """Processes of a process group that are still running (zombies excluded)."""
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                members.append(int(entry))
    return members


def cpu_seconds(root):
    """(utime, stime) of the whole process tree, in seconds: user space and kernel."""
    ticks = os.sysconf("SC_CLK_TCK")
    user = system = 0
    for pid in process_tree(root):
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        user += int(fields[11])
        system += int(fields[12])
    return user / ticks, system / ticks


def steal_seconds():
    """Time the hypervisor ran something else on this machine's virtual CPUs, summed, in
    seconds (/proc/stat's steal column). On a shared VM a few milliseconds stolen from the
    server's core at a time decide the latency tail, so every round records it."""
    ticks = os.sysconf("SC_CLK_TCK")
    with open("/proc/stat") as stat:
        for line in stat:
            fields = line.split()
            if fields[0] == "cpu":
                return int(fields[8]) / ticks
    return 0.0


def steal_share(before, after, seconds):
    """The share of the machine's CPU time the hypervisor took over `seconds`."""
    return round((after - before) / (seconds * os.cpu_count()), 4) if seconds else None


def memory(root):
    """Memory of the process tree in MiB: summed VmRSS and Pss, largest VmHWM, thread count."""
    rss_kib = pss_kib = hwm_kib = threads = 0
    pids = process_tree(root)
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as status:
                fields = dict(line.split(":", 1) for line in status if ":" in line)
            rss_kib += int(fields["VmRSS"].split()[0])
            hwm_kib = max(hwm_kib, int(fields["VmHWM"].split()[0]))
            threads += int(fields["Threads"])
            with open(f"/proc/{pid}/smaps_rollup") as rollup:
                for line in rollup:
                    if line.startswith("Pss:"):
                        pss_kib += int(line.split()[1])
        except (OSError, KeyError, ValueError):
            continue
    return {
        "rss_mib": round(rss_kib / 1024, 1),
        "pss_mib": round(pss_kib / 1024, 1),
        "hwm_mib": round(hwm_kib / 1024, 1),
        "processes": len(pids),
        "threads": threads,
    }


# ---------------------------------------------------------------------------------------------
# Subcommands


def cmd_free_port(_args):
    """A port free on 127.0.0.1 for both UDP and TCP at this moment."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
        print(port)
        return 0
    sys.exit("no free loopback port found")


def zone_owners(path, zone):
    """Owner names (relative to the zone, lower case) that carry TXT records in a master file."""
    origin, previous, owners = zone.rstrip(".") + ".", None, set()
    with open(path, encoding="utf-8", errors="replace") as zone_file:
        for line in zone_file:
            body = line.split(";", 1)[0] if '"' not in line else line
            if not body.strip():
                continue
            if body.startswith("$ORIGIN"):
                origin = body.split()[1]
                continue
            if body.startswith("$"):
                continue
            tokens = body.split()
            if body[0] in " \t":
                owner = previous
            else:
                owner, tokens = tokens[0], tokens[1:]
                if owner == "@":
                    owner = origin
                elif not owner.endswith("."):
                    owner = f"{owner}.{origin}"
                previous = owner
            rest = [t.upper() for t in tokens[:3]]
            if "TXT" in rest and owner:
                owners.add(owner.lower())
    suffix = "." + zone.rstrip(".").lower() + "."
    return sorted(o[: -len(suffix)] for o in owners if o.endswith(suffix))


def cmd_queries(args):
    rng = random.Random(args.seed)
    zone = args.zone.rstrip(".")
    relative = zone_owners(args.zone_file, zone)
    services = [o for o in relative if not o.split(".")[0].isdigit()]
    if not services:
        sys.exit(f"no service names found in {args.zone_file}")
    known = set(services)
    popular = [s for s in services if s.split(".")[0] in COMMON_SERVICES] or services

    def port_name(port, protocol=None):
        return f"{port}.{protocol}.{zone}" if protocol else f"{port}.{zone}"

    def common_port():
        return port_name(rng.choice(COMMON_PORTS), rng.choice(("tcp", "tcp", "udp")))

    def random_port():
        return port_name(rng.randrange(65536), rng.choice(PROTOCOLS))

    def all_protocols():
        port = rng.choice(COMMON_PORTS) if rng.random() < 0.5 else rng.randrange(65536)
        return port_name(port)

    def service():
        return f"{rng.choice(popular if rng.random() < 0.5 else services)}.{zone}"

    def miss():
        roll = rng.random()
        if roll < 0.3:
            while True:
                label = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(9))
                if label not in known:
                    return f"{label}.{rng.choice(PROTOCOLS)}.{zone} TXT"
        if roll < 0.5:
            return f"{rng.randrange(65536, 100000)}.{rng.choice(PROTOCOLS)}.{zone} TXT"
        if roll < 0.65:
            return f"{rng.randrange(65536)}.quic.{zone} TXT"
        if roll < 0.8:
            return f"{rng.choice(COMMON_PORTS)}.tcp.{zone} A"
        if roll < 0.92:
            return f"{rng.choice(PROTOCOLS)}.{zone} TXT"
        return f"{rng.randrange(65536)}.tcp.example.org TXT"

    questions = search_questions(args.search_questions) if args.search_share else []

    def search():
        return f"{'.'.join(rng.choice(questions))}.search.{zone}"

    # (share, generator): the mix described in benches/README.md, with `search_share` of it
    # taken by keyword searches when asked.
    rest = 1.0 - args.search_share
    mix = (
        (args.search_share, search),
        (0.30 * rest, common_port),
        (0.25 * rest, random_port),
        (0.10 * rest, all_protocols),
        (0.20 * rest, service),
        (0.15 * rest, miss),
    )
    with open(args.out, "w") as out:
        for _ in range(args.count):
            roll, cumulative = rng.random(), 0.0
            for share, generate in mix:
                cumulative += share
                if roll < cumulative or generate is miss:
                    line = generate()
                    break
            out.write(line if generate is miss else f"{line} TXT")
            out.write("\n")
    searches = f", {args.search_share:.0%} searches" if args.search_share else ""
    print(f"{args.count} queries ({len(services)} service names in the zone{searches}) -> {args.out}")
    return 0


def cmd_doh_uris(args):
    """The query file as DNS over HTTPS GET URIs (RFC 8484: base64url without padding, message
    ID 0, no EDNS as dnsperf sends by default), for h2load -i."""
    with open(args.queries) as queries, open(args.out, "w") as out:
        for line in queries:
            if line.strip():
                qname, qtype = line.split()
                message = encode_query(qname, {"TXT": TYPE_TXT, "A": 1}[qtype], edns_size=0)
                encoded = base64.urlsafe_b64encode(message).decode("ascii").rstrip("=")
                out.write(f"https://127.0.0.1:{args.port}/dns-query?dns={encoded}\n")
    return 0


def cmd_h2load_repeat(args):
    """h2load run again and again for --duration seconds, each run opening --clients new
    connections that make --per-connection requests each, over the next slice of the URI
    file: DNS over HTTPS with a new connection every so many queries, which h2load alone
    cannot do. Prints one summary in h2load's own words, for parse_h2load."""
    with open(args.uris) as lines:
        uris = [line for line in lines if line.strip()]
    per_run = args.clients * args.per_connection
    done = succeeded = failed = at = 0
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as scratch:
        path = os.path.join(scratch, "uris.txt")
        while time.monotonic() - started < args.duration:
            with open(path, "w") as out:
                out.writelines(uris[(at + i) % len(uris)] for i in range(per_run))
            at += per_run
            run = subprocess.run(
                ["h2load", "-n", str(per_run), "-c", str(args.clients), "-m", str(args.streams),
                 "-t", "1", "-i", path],
                capture_output=True, text=True, check=False)
            stats = parse_h2load(run.stdout)
            if stats["sent"] is None:
                sys.exit(f"h2load failed ({run.returncode}):\n{(run.stdout + run.stderr)[-2000:]}")
            done += stats["sent"]
            succeeded += stats["completed"] or 0
            failed += stats["lost"] or 0
    seconds = time.monotonic() - started
    print(f"finished in {seconds:.2f}s")
    print(f"requests: {done} total, {done} started, {done} done, {succeeded} succeeded, "
          f"{failed} failed, 0 errored, 0 timeout")
    return 0


def search_questions(path):
    """The questions of tests/data/search-questions.tsv, each as its list of words."""
    with open(path) as lines:
        rows = [line.split("\t")[0] for line in lines if line.strip() and not line.startswith("#")]
    return [row.lower().split() for row in rows]


def cmd_wait_ready(args):
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        if answered(args.port, args.qname, 0.05):
            return 0
        time.sleep(0.02)
    sys.exit(f"no answer for {args.qname} on port {args.port} within {args.timeout} s")


def stop_group(process):
    """SIGTERM to the main process (it reaps its own children), SIGKILL to the group after 5 s."""
    process.terminate()
    try:
        process.wait(timeout=5)
        for _ in range(50):
            if not live_group_members(process.pid):
                return
            time.sleep(0.1)
        os.killpg(process.pid, signal.SIGKILL)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        pass


def cmd_startup(args):
    """Milliseconds from exec to the first answered query, over several fresh starts."""
    times = []
    for _ in range(args.runs):
        with open(args.log, "ab") as log:
            started = time.monotonic()
            process = subprocess.Popen(args.command, stdout=log, stderr=log, start_new_session=True)
            try:
                while not answered(args.port, args.qname, 0.002):
                    if process.poll() is not None:
                        sys.exit(f"{args.command[0]} exited with {process.returncode}; see {args.log}")
                    if time.monotonic() - started > args.timeout:
                        sys.exit(f"{args.command[0]} gave no answer within {args.timeout} s")
                times.append((time.monotonic() - started) * 1000)
            finally:
                stop_group(process)
    record = {
        "server": args.server,
        "kind": "startup",
        "runs_ms": [round(t, 1) for t in times],
        "median_ms": round(statistics.median(times), 1),
    }
    append_record(args.out, record)
    print(f"  {args.server:7} startup median {record['median_ms']} ms {record['runs_ms']}")
    return 0


def cmd_rest_memory(args):
    """Memory of a server at rest: started, its start-up work done (the log line
    `--ready-line` seen `--ready-count` times), one question answered, then measured."""
    with open(args.log, "wb") as log:
        process = subprocess.Popen(args.command, stdout=log, stderr=log, start_new_session=True)
    started = time.monotonic()
    try:
        while True:
            with open(args.log, "rb") as log:
                seen = log.read().count(args.ready_line.encode())
            if seen >= args.ready_count and answered(args.port, args.qname, 0.05):
                break
            if process.poll() is not None:
                sys.exit(f"{args.command[0]} exited with {process.returncode}; see {args.log}")
            if time.monotonic() - started > args.timeout:
                sys.exit(f"{args.command[0]} was not at rest within {args.timeout} s; see {args.log}")
            time.sleep(0.05)
        record = {
            "server": args.server,
            "kind": "rest_memory",
            "zones": args.zones,
            "memory": memory(process.pid),
        }
    finally:
        stop_group(process)
    append_record(args.out, record)
    print(f"  {args.server:7} at rest with {args.zones} zone(s): {record['memory']['rss_mib']} MiB RSS")
    return 0


def parse_dnsperf(text):
    def number(pattern, cast=float):
        match = re.search(pattern, text)
        return cast(match.group(1)) if match else None

    rcodes = {}
    codes = re.search(r"Response codes:\s+(.*)", text)
    if codes:
        for name, count in re.findall(r"([A-Z]+) (\d+)", codes.group(1)):
            rcodes[name] = int(count)
    return {
        "sent": number(r"Queries sent:\s+(\d+)", int),
        "completed": number(r"Queries completed:\s+(\d+)", int),
        "lost": number(r"Queries lost:\s+(\d+)", int),
        "qps": number(r"Queries per second:\s+([\d.]+)"),
        "avg_latency_ms": (number(r"Average Latency \(s\):\s+([\d.]+)") or 0) * 1000,
        "run_time_s": number(r"Run time \(s\):\s+([\d.]+)"),
        "response_bytes": number(r"Average packet size:.*response (\d+)", int),
        "reconnections": number(r"Reconnections:\s+(\d+)", int),
        "rcodes": rcodes,
    }


def parse_h2load(text):
    """h2load's summary in the keys parse_dnsperf gives: requests done for queries sent, failed
    ones for lost (those still in flight when the time is up count as neither)."""
    def number(pattern, cast=float):
        match = re.search(pattern, text)
        return cast(match.group(1)) if match else None

    done = number(r"requests: .* (\d+) done", int)
    succeeded = number(r"requests: .* (\d+) succeeded", int)
    seconds = number(r"finished in ([\d.]+)s")
    return {
        "sent": done,
        "completed": succeeded,
        "lost": number(r"requests: .* (\d+) failed", int),
        "qps": round(succeeded / seconds, 1) if succeeded is not None and seconds else None,
        "run_time_s": seconds,
        "rcodes": {},
    }


def parse_probe(line):
    """One of the JSON objects benches/probe.rs prints, in the units dnsperf's records use."""
    found = json.loads(line)
    ms = lambda key: round(found[key] / 1000, 3)
    return {
        "sent": found["sent"],
        "completed": found["answered"],
        "lost": found["lost"],
        "qps": round(found["answered"] / found["seconds"], 1),
        "run_time_s": found["seconds"],
        "p50_ms": ms("p50_us"),
        "p99_ms": ms("p99_us"),
        "p999_ms": ms("p999_us"),
        "max_ms": ms("max_us"),
        "samples": found["answered"],
    }


def latency_percentiles(text):
    """Percentiles of the per-query latencies dnsperf -v prints as `> RCODE NAME TYPE SECONDS`."""
    latencies = []
    for line in text.splitlines():
        if line.startswith("> "):
            try:
                latencies.append(float(line.rsplit(None, 1)[1]))
            except (IndexError, ValueError):
                continue
    if not latencies:
        return {}
    latencies.sort()

    def at(fraction):
        return round(latencies[min(len(latencies) - 1, int(fraction * len(latencies)))] * 1000, 3)

    return {"p50_ms": at(0.50), "p99_ms": at(0.99), "p999_ms": at(0.999), "samples": len(latencies)}


def cmd_measure(args):
    """Runs one dnsperf (or h2load) invocation against one server and records what it cost the
    server."""
    samples = []
    with tempfile.TemporaryFile("w+") as output:
        steal_before = steal_seconds()
        cpu_before = cpu_seconds(args.pid)
        client_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.monotonic()
        process = subprocess.Popen(args.command, stdout=output, stderr=subprocess.STDOUT)
        if args.sample_every:
            stop = threading.Event()

            def sample():
                while True:
                    samples.append({"t_s": round(time.monotonic() - started, 1), **memory(args.pid)})
                    if stop.wait(args.sample_every):
                        return

            sampler = threading.Thread(target=sample)
            sampler.start()
        process.wait()
        if args.sample_every:
            stop.set()
            sampler.join()
            samples.append({"t_s": round(time.monotonic() - started, 1), **memory(args.pid)})
        cpu_after = cpu_seconds(args.pid)
        steal_after = steal_seconds()
        client_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        output.seek(0)
        text = output.read()
    if process.returncode != 0:
        sys.exit(f"{args.command[0]} failed ({process.returncode}):\n{text[-2000:]}")
    client = {os.path.basename(word) for word in args.command}
    stats = parse_h2load(text) if client & {"h2load", "h2load-repeat"} else parse_dnsperf(text)
    if "-v" in args.command:
        stats.update(latency_percentiles(text))
    server_user = cpu_after[0] - cpu_before[0]
    server_system = cpu_after[1] - cpu_before[1]
    server_cpu = server_user + server_system
    per_query = lambda seconds: round(seconds * 1e6 / stats["completed"], 2) if stats["completed"] else None
    client_cpu = (client_after.ru_utime + client_after.ru_stime) - (
        client_before.ru_utime + client_before.ru_stime
    )
    record = {
        "server": args.server,
        "kind": args.kind,
        "round": args.round,
        **stats,
        "server_cpu_s": round(server_cpu, 2),
        "cpu_us_per_query": per_query(server_cpu),
        "user_us_per_query": per_query(server_user),
        "kernel_us_per_query": per_query(server_system),
        "server_cores_busy": round(server_cpu / stats["run_time_s"], 2) if stats["run_time_s"] else None,
        "client_cores_busy": round(client_cpu / stats["run_time_s"], 2) if stats["run_time_s"] else None,
        "steal_s": round(steal_after - steal_before, 2),
        "steal_share": steal_share(steal_before, steal_after, stats["run_time_s"]),
        "memory": memory(args.pid),
    }
    if samples:
        record["memory_samples"] = samples
    append_record(args.out, record)
    summary = f"{record['qps'] or 0:>10,.0f} q/s  lost {record['lost']}  {record['cpu_us_per_query']} us/q"
    if "p50_ms" in record:
        summary += f"  p50 {record['p50_ms']} ms  p99 {record['p99_ms']} ms"
    summary += f"  steal {record['steal_share']:.1%}" if record["steal_share"] is not None else ""
    print(f"  {args.kind:7} round {args.round}  {args.server:7} {summary}")
    return 0


def cmd_probe(args):
    """Runs benches/probe.rs against all the servers at once (it asks them interleaved) and
    records one result per server."""
    servers = [item.split("=") for item in args.server]
    command = list(args.command)
    for _name, port, _pid in servers:
        command += ["--server", f"127.0.0.1:{port}"]
    steal_before = steal_seconds()
    cpu_before = [cpu_seconds(int(pid)) for _name, _port, pid in servers]
    process = subprocess.run(command, capture_output=True, text=True)
    cpu_after = [cpu_seconds(int(pid)) for _name, _port, pid in servers]
    steal_after = steal_seconds()
    if process.returncode != 0:
        sys.exit(f"probe failed ({process.returncode}):\n{process.stderr[-2000:]}")
    lines = process.stdout.strip().splitlines()
    for (name, _port, _pid), line, before, after in zip(servers, lines, cpu_before, cpu_after):
        stats = parse_probe(line)
        seconds = sum(after) - sum(before)
        record = {
            "server": name,
            "kind": "probe",
            "round": args.round,
            **stats,
            "cpu_us_per_query": round(seconds * 1e6 / stats["completed"], 2) if stats["completed"] else None,
            "steal_share": steal_share(steal_before, steal_after, stats["run_time_s"]),
        }
        append_record(args.out, record)
        print(f"  probe   round {args.round}  {name:7} lost {record['lost']}  p50 {record['p50_ms']} ms  "
              f"p99 {record['p99_ms']} ms  p99.9 {record['p999_ms']} ms  steal {record['steal_share']:.1%}")
    return 0


def cmd_agree(args):
    """Asks every server a sample of the query file and reports names where they disagree."""
    servers = dict(item.split("=", 1) for item in args.server)
    with open(args.queries) as queries:
        lines = [line.split() for line in queries if line.strip()]
    sample = random.Random(args.seed).sample(lines, min(args.count, len(lines)))
    disagreements = []
    for qname, qtype in sample:
        code = {"TXT": TYPE_TXT, "A": 1}[qtype]
        answers = {}
        for name, port in servers.items():
            try:
                answer = ask(int(port), qname, code)
                answers[name] = (RCODE_NAMES.get(answer["rcode"], answer["rcode"]), answer["answers"])
            except OSError as error:
                answers[name] = (f"error: {error}", [])
        if len({json.dumps(a) for a in answers.values()}) > 1:
            disagreements.append(
                {"query": f"{qname} {qtype}", **{n: f"{a[0]}, {len(a[1])} records" for n, a in answers.items()}}
            )
    append_record(
        args.out,
        {"kind": "agree", "checked": len(sample), "servers": sorted(servers), "disagreements": disagreements[:20],
         "disagreement_count": len(disagreements)},
    )
    print(f"  answers compared on {len(sample)} queries: {len(disagreements)} differ")
    for item in disagreements[:5]:
        print(f"    {item}")
    return 0


def append_record(path, record):
    with open(path, "a") as out:
        out.write(json.dumps(record) + "\n")


# ---------------------------------------------------------------------------------------------
# Report


def median_of(records, key):
    values = [r[key] for r in records if r.get(key) is not None]
    return statistics.median(values) if values else None


def ratio(ours, theirs):
    return round(ours / theirs, 2) if ours is not None and theirs else None


def paired_ratios(records, kind, key, ours, theirs):
    """ours/theirs for each round both ran. The servers of a round run back to back (or, for
    the probe, side by side), so a ratio taken inside a round is less exposed to the machine's
    drift between rounds than a ratio of medians taken across rounds."""
    def by_round(server):
        return {r["round"]: r[key] for r in records
                if r.get("server") == server and r.get("kind") == kind and r.get(key) is not None}
    mine, other = by_round(ours), by_round(theirs)
    return [mine[n] / other[n] for n in mine if other.get(n)]


def paired_ratio(records, kind, key, ours, theirs):
    """Median of the per-round ratios."""
    ratios = paired_ratios(records, kind, key, ours, theirs)
    return round(statistics.median(ratios), 2) if ratios else None


def cmd_report(args):
    with open(args.results) as lines:
        records = [json.loads(line) for line in lines if line.strip()]
    meta = dict(item.split("=", 1) for item in args.meta)
    servers = meta.get("servers", "portsd nsd knot").split()
    summary = {"meta": meta, "servers": {}, "ratios": {}}
    for server in servers:
        mine = [r for r in records if r.get("server") == server]
        udp = [r for r in mine if r["kind"] == "udp"]
        tcp = [r for r in mine if r["kind"] == "tcp"]
        latency = [r for r in mine if r["kind"] == "latency"]
        probe = [r for r in mine if r["kind"] == "probe"]
        startup = [r for r in mine if r["kind"] == "startup"]
        flat = [r for r in mine if r["kind"] == "flat"]
        entry = {
            "udp_qps": median_of(udp, "qps"),
            "udp_qps_rounds": [round(r["qps"]) for r in udp if r.get("qps")],
            "udp_lost": sum(r["lost"] or 0 for r in udp),
            "udp_sent": sum(r["sent"] or 0 for r in udp),
            "cpu_us_per_query": median_of(udp, "cpu_us_per_query"),
            "server_cores_busy": median_of(udp, "server_cores_busy"),
            "client_cores_busy": median_of(udp, "client_cores_busy"),
            "avg_latency_ms_saturated": median_of(udp, "avg_latency_ms"),
            "p50_ms": median_of(latency, "p50_ms"),
            "p99_ms": median_of(latency, "p99_ms"),
            "p99_ms_rounds": [r["p99_ms"] for r in latency if r.get("p99_ms") is not None],
            "user_us_per_query": median_of(udp, "user_us_per_query"),
            "kernel_us_per_query": median_of(udp, "kernel_us_per_query"),
            "latency_lost": sum(r["lost"] or 0 for r in latency),
            "latency_steal_rounds": [r.get("steal_share") for r in latency],
            "probe_p50_ms": median_of(probe, "p50_ms"),
            "probe_p99_ms": median_of(probe, "p99_ms"),
            "probe_p999_ms": median_of(probe, "p999_ms"),
            "probe_p99_ms_rounds": [r["p99_ms"] for r in probe if r.get("p99_ms") is not None],
            "probe_steal_rounds": [r.get("steal_share") for r in probe],
            "probe_lost": sum(r["lost"] or 0 for r in probe),
            "probe_sent": sum(r["sent"] or 0 for r in probe),
            "tcp_qps": median_of(tcp, "qps"),
            "tcp_lost": sum(r["lost"] or 0 for r in tcp),
            "tcp_cpu_us_per_query": median_of(tcp, "cpu_us_per_query"),
            "startup_ms": startup[-1]["median_ms"] if startup else None,
            "rcodes": udp[-1]["rcodes"] if udp else {},
        }
        if mine:
            last = [r for r in mine if "memory" in r][-1]["memory"] if any("memory" in r for r in mine) else {}
            entry["memory"] = last
        if flat:
            points = flat[-1]["memory_samples"]
            entry["rss_flatness"] = {
                "duration_s": points[-1]["t_s"],
                "start_rss_mib": points[0]["rss_mib"],
                "end_rss_mib": points[-1]["rss_mib"],
                "max_rss_mib": max(p["rss_mib"] for p in points),
                "growth_mib": round(points[-1]["rss_mib"] - points[0]["rss_mib"], 1),
                "qps": flat[-1]["qps"],
                "lost": flat[-1]["lost"],
            }
        summary["servers"][server] = entry
    ours = summary["servers"].get("portsd")
    for other in servers:
        theirs = summary["servers"].get(other)
        if other == "portsd" or not ours or not theirs:
            continue
        paired = lambda kind, key: paired_ratio(records, kind, key, "portsd", other)

        summary["ratios"][f"portsd/{other}"] = {
            "udp_qps": paired("udp", "qps"),
            "cpu_us_per_query": paired("udp", "cpu_us_per_query"),
            "p50": paired("latency", "p50_ms"),
            "p99": paired("latency", "p99_ms"),
            "probe_p50": paired("probe", "p50_ms"),
            "probe_p99": paired("probe", "p99_ms"),
            "probe_p99_rounds": [round(r, 2) for r in paired_ratios(records, "probe", "p99_ms", "portsd", other)],
            "rss": ratio(ours.get("memory", {}).get("rss_mib"), theirs.get("memory", {}).get("rss_mib")),
            "tcp_qps": paired("tcp", "qps"),
            "startup": ratio(ours["startup_ms"], theirs["startup_ms"]),
            "of_medians": {
                "udp_qps": ratio(ours["udp_qps"], theirs["udp_qps"]),
                "cpu_us_per_query": ratio(ours["cpu_us_per_query"], theirs["cpu_us_per_query"]),
                "p50": ratio(ours["p50_ms"], theirs["p50_ms"]),
                "p99": ratio(ours["p99_ms"], theirs["p99_ms"]),
            },
        }
    rest = [r for r in records if r.get("kind") == "rest_memory"]
    if rest:
        runs = sorted(({"zones": r["zones"], "rss_mib": r["memory"]["rss_mib"]} for r in rest),
                      key=lambda z: z["zones"])
        one = next((z["rss_mib"] for z in runs if z["zones"] == 1), None)
        most = runs[-1]
        growth = ((most["rss_mib"] - one) / one / (most["zones"] - 1)
                  if one and most["zones"] > 1 else None)
        summary["zones_at_rest"] = {
            "runs": runs,
            "growth_per_extra_zone": round(growth, 4) if growth is not None else None,
        }
    plain_mix = [r for r in records if r.get("server") == "portsd" and r.get("kind") == "mix_plain"]
    search_mix = [r for r in records if r.get("server") == "portsd" and r.get("kind") == "mix_search"]
    if plain_mix and search_mix:
        # Both mixes go to the same portsd in turns, so a round's ratio is of neighbours.
        paired_mix = lambda key: [
            s[key] / p[key] for p in plain_mix for s in search_mix
            if s["round"] == p["round"] and s.get(key) and p.get(key)
        ]
        median_ratio = lambda key: round(statistics.median(paired_mix(key)), 2) if paired_mix(key) else None
        summary["search_mix"] = {
            "rounds": len(search_mix),
            "plain_qps": median_of(plain_mix, "qps"),
            "search_qps": median_of(search_mix, "qps"),
            "plain_cpu_us_per_query": median_of(plain_mix, "cpu_us_per_query"),
            "search_cpu_us_per_query": median_of(search_mix, "cpu_us_per_query"),
            "plain_user_us_per_query": median_of(plain_mix, "user_us_per_query"),
            "search_user_us_per_query": median_of(search_mix, "user_us_per_query"),
            "qps_ratio": median_ratio("qps"),
            "cpu_ratio": median_ratio("cpu_us_per_query"),
            "user_ratio": median_ratio("user_us_per_query"),
        }
    agree = [r for r in records if r.get("kind") == "agree"]
    if agree:
        summary["answer_check"] = agree[-1]
    text = render(summary)
    with open(args.json_out, "w") as out:
        json.dump(summary, out, indent=2)
        out.write("\n")
    with open(args.text_out, "w") as out:
        out.write(text)
    print(text, end="")
    return 0


def fmt(value, pattern="{:,.0f}"):
    return "-" if value is None else pattern.format(value)


def render(summary):
    meta, servers = summary["meta"], summary["servers"]
    lines = [
        f"portsd comparison, {meta.get('date', '')}",
        f"machine: {meta.get('cpu', '?')}, {meta.get('cores', '?')} cores, kernel {meta.get('kernel', '?')}, "
        f"load average before the run {meta.get('loadavg_before', '?')}",
        f"versions: {meta.get('versions', '?')}",
        f"zone: {meta.get('zone', '?')}, {meta.get('zone_records', '?')} records; "
        f"queries: {meta.get('query_count', '?')} names, seed {meta.get('query_seed', '?')}",
        f"setup: {meta.get('setup', '?')}",
        f"load: {meta.get('load', '?')}",
        "",
        "| server | UDP q/s (median) | lost | CPU us/query | cores busy | p50 ms | p99 ms "
        "| probe p50 ms | probe p99 ms | RSS MiB | PSS MiB | TCP q/s | startup ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, s in servers.items():
        memory_now = s.get("memory", {})
        lines.append(
            f"| {name} | {fmt(s['udp_qps'])} | {s['udp_lost']} | {fmt(s['cpu_us_per_query'], '{:.2f}')} "
            f"| {fmt(s['server_cores_busy'], '{:.2f}')} | {fmt(s['p50_ms'], '{:.3f}')} "
            f"| {fmt(s['p99_ms'], '{:.3f}')} | {fmt(s['probe_p50_ms'], '{:.3f}')} "
            f"| {fmt(s['probe_p99_ms'], '{:.3f}')} | {fmt(memory_now.get('rss_mib'), '{:.1f}')} "
            f"| {fmt(memory_now.get('pss_mib'), '{:.1f}')} | {fmt(s['tcp_qps'])} "
            f"| {fmt(s['startup_ms'], '{:.0f}')} |"
        )
    if summary["ratios"]:
        lines += ["", "| ratio | UDP q/s | CPU/query | p50 | p99 | probe p50 | probe p99 | RSS | TCP q/s "
                  "| startup |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for name, r in summary["ratios"].items():
            cells = " | ".join(fmt(r[k], "{:.2f}") for k in
                               ("udp_qps", "cpu_us_per_query", "p50", "p99", "probe_p50", "probe_p99",
                                "rss", "tcp_qps", "startup"))
            lines.append(f"| {name} | {cells} |")
        lines += ["", "Probe p99 ratio in each round (the servers asked side by side):"]
        for name, r in summary["ratios"].items():
            lines.append(f"  {name}: [{', '.join(fmt(v, '{:.2f}') for v in r['probe_p99_rounds'])}]")
        lines += ["", "Ratios above are medians of per-round ratios (servers take turns within a round); "
                  "ratios of the medians in the first table, for comparison:"]
        for name, r in summary["ratios"].items():
            m = r["of_medians"]
            lines.append(f"  {name}: UDP q/s {fmt(m['udp_qps'], '{:.2f}')}, CPU/query "
                         f"{fmt(m['cpu_us_per_query'], '{:.2f}')}, p50 {fmt(m['p50'], '{:.2f}')}, "
                         f"p99 {fmt(m['p99'], '{:.2f}')}")
    lines.append("")
    for name, s in servers.items():
        rounds = ", ".join(f"{q:,}" for q in s["udp_qps_rounds"])
        memory_now = s.get("memory", {})
        lines.append(
            f"{name}: UDP rounds [{rounds}]; CPU us/query user {fmt(s['user_us_per_query'], '{:.2f}')}, "
            f"kernel {fmt(s['kernel_us_per_query'], '{:.2f}')}; "
            f"p99 rounds [{', '.join(fmt(v, '{:.2f}') for v in s['p99_ms_rounds'])}] ms "
            f"(steal [{', '.join(fmt(v, '{:.1%}') for v in s['latency_steal_rounds'])}]); "
            f"probe p99 rounds [{', '.join(fmt(v, '{:.2f}') for v in s['probe_p99_ms_rounds'])}] ms "
            f"(steal [{', '.join(fmt(v, '{:.1%}') for v in s['probe_steal_rounds'])}]), "
            f"p99.9 {fmt(s['probe_p999_ms'], '{:.2f}')} ms, lost {s['probe_lost']} of {s['probe_sent']}; "
            f"dnsperf cores busy {fmt(s['client_cores_busy'], '{:.2f}')}; "
            f"TCP lost {s['tcp_lost']}, {fmt(s['tcp_cpu_us_per_query'], '{:.2f}')} us/query; "
            f"{memory_now.get('processes', '?')} processes, {memory_now.get('threads', '?')} threads, "
            f"VmHWM {memory_now.get('hwm_mib', '?')} MiB; rcodes {s['rcodes']}"
        )
        flat = s.get("rss_flatness")
        if flat:
            lines.append(
                f"{name}: RSS over {flat['duration_s']:.0f} s under load: {flat['start_rss_mib']} -> "
                f"{flat['end_rss_mib']} MiB (max {flat['max_rss_mib']}, growth {flat['growth_mib']}), "
                f"{fmt(flat['qps'])} q/s, lost {flat['lost']}"
            )
    zones = summary.get("zones_at_rest")
    if zones:
        cells = ", ".join(f"{z['zones']} zone(s) {z['rss_mib']} MiB" for z in zones["runs"])
        lines.append(
            f"portsd RSS at rest by zones served (one table): {cells}; "
            f"growth per extra zone {fmt(zones['growth_per_extra_zone'], '{:.1%}')} of one zone's"
        )
    mix = summary.get("search_mix")
    if mix:
        lines.append(
            f"portsd with {float(meta.get('search_share', 'nan')):.0%} of the names searches ({mix['rounds']} rounds, "
            f"each against the plain mix): "
            f"{fmt(mix['search_qps'])} q/s against {fmt(mix['plain_qps'])} (ratio {fmt(mix['qps_ratio'], '{:.2f}')}), "
            f"CPU {fmt(mix['search_cpu_us_per_query'], '{:.2f}')} us/query against "
            f"{fmt(mix['plain_cpu_us_per_query'], '{:.2f}')} (ratio {fmt(mix['cpu_ratio'], '{:.2f}')}; "
            f"user {fmt(mix['search_user_us_per_query'], '{:.2f}')} against "
            f"{fmt(mix['plain_user_us_per_query'], '{:.2f}')}, ratio {fmt(mix['user_ratio'], '{:.2f}')})"
        )
    check = summary.get("answer_check")
    if check:
        lines.append(f"answer check: {check['disagreement_count']} of {check['checked']} sampled queries "
                     f"answered differently by {', '.join(check['servers'])}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# Zone transfers (transfer.sh)

TYPE_SOA = 6
TYPE_TSIG = 250
TYPE_IXFR = 251
TYPE_AXFR = 252
CLASS_ANY = 255


def encode_name(name):
    labels = [label for label in name.rstrip(".").split(".") if label]
    return b"".join(bytes([len(label)]) + label.lower().encode("ascii") for label in labels) + b"\x00"


def read_bind_key(path):
    """(name, algorithm, secret bytes) from a `key "name" { algorithm ...; secret "..."; };`
    file as tsig-keygen writes it."""
    import base64

    with open(path) as key_file:
        text = key_file.read()
    name = re.search(r'key\s+"([^"]+)"', text).group(1)
    algorithm = re.search(r"algorithm\s+([\w-]+)\s*;", text).group(1)
    secret = base64.b64decode(re.search(r'secret\s+"([^"]+)"', text).group(1))
    return name, algorithm, secret


def sign_request(message, key):
    """The message with a TSIG record appended (RFC 8945 4.3.3), HMAC-SHA256/384/512."""
    import hashlib
    import hmac

    name, algorithm, secret = key
    digest = {"hmac-sha256": hashlib.sha256, "hmac-sha384": hashlib.sha384,
              "hmac-sha512": hashlib.sha512}[algorithm]
    ident = message[:2]
    key_name, algorithm_name = encode_name(name), encode_name(algorithm)
    signed_at = int(time.time())
    timers = struct.pack("!HIH", signed_at >> 32, signed_at & 0xFFFFFFFF, 300)
    variables = key_name + struct.pack("!HI", CLASS_ANY, 0) + algorithm_name + timers + struct.pack("!HH", 0, 0)
    mac = hmac.new(secret, message + variables, digest).digest()
    rdata = algorithm_name + timers + struct.pack("!H", len(mac)) + mac + ident + struct.pack("!HH", 0, 0)
    record = key_name + struct.pack("!HHIH", TYPE_TSIG, CLASS_ANY, 0, len(rdata)) + rdata
    arcount = struct.unpack_from("!H", message, 10)[0] + 1
    return message[:10] + struct.pack("!H", arcount) + message[12:] + record


def transfer_query(zone, qtype, serial):
    """An AXFR query, or an IXFR query carrying `serial` in an SOA in the authority section."""
    header = struct.pack("!HHHHHH", 0x5E1F, 0, 1, 0, 1 if qtype == TYPE_IXFR else 0, 0)
    message = header + encode_name(zone) + struct.pack("!HH", qtype, 1)
    if qtype == TYPE_IXFR:
        rdata = b"\x00\x00" + struct.pack("!IIIII", serial, 0, 0, 0, 0)
        message += b"\xc0\x0c" + struct.pack("!HHIH", TYPE_SOA, 1, 0, len(rdata)) + rdata
    return message


def transfer_messages(stream):
    """Splits a TCP byte stream into DNS messages."""
    messages, offset = [], 0
    while offset + 2 <= len(stream):
        length = struct.unpack_from("!H", stream, offset)[0]
        if offset + 2 + length > len(stream):
            break
        messages.append(bytes(stream[offset + 2:offset + 2 + length]))
        offset += 2 + length
    return messages


def transfer_summary(messages):
    """Rcode of the first message, the record count, the types of the first and last records
    (TSIG aside) and how many messages carry a TSIG record."""
    rcode, records, first, last, signed = None, 0, None, None, 0
    for message in messages:
        _, flags, qdcount, ancount, nscount, arcount = struct.unpack_from("!HHHHHH", message)
        rcode = flags & 0xF if rcode is None else rcode
        offset = 12
        for _ in range(qdcount):
            offset = skip_name(message, offset) + 4
        for index in range(ancount + nscount + arcount):
            offset = skip_name(message, offset)
            rtype, _, _, rdlength = struct.unpack_from("!HHIH", message, offset)
            offset += 10 + rdlength
            if rtype == TYPE_TSIG:
                signed += 1
            elif index < ancount:
                records += 1
                first = rtype if first is None else first
                last = rtype
    return {"rcode": RCODE_NAMES.get(rcode, rcode), "records": records, "first_type": first,
            "last_type": last, "signed_messages": signed}


def rss_reset(root):
    """Summed VmRSS of the tree in KiB, after resetting each process's peak (VmHWM) to it
    (clear_refs 5, Linux 4.0; needs the process's owner or root). False if a reset failed."""
    total, reset = 0, True
    for pid in process_tree(root):
        try:
            with open(f"/proc/{pid}/clear_refs", "w") as clear:
                clear.write("5")
        except OSError:
            reset = False
        total += status_kib(pid, "VmRSS")
    return total, reset


def rss_peak(root):
    """Summed VmHWM of the tree in KiB."""
    return sum(status_kib(pid, "VmHWM") for pid in process_tree(root))


def status_kib(pid, field):
    """A size field of /proc/PID/status in KiB; 0 for a process that has gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            fields = dict(line.split(":", 1) for line in status if ":" in line)
        return int(fields[field].split()[0])
    except (OSError, KeyError, ValueError):
        return 0


def cmd_transfer(args):
    """One zone transfer over TCP, signed with the key file: wall time from the query's send to
    the last byte received (the stream counts as ended after `--idle` seconds of silence, which
    is not part of the time), bytes and messages on the wire, records, and the growth of the
    server's peak RSS over the transfer."""
    qtype = TYPE_IXFR if args.qtype == "IXFR" else TYPE_AXFR
    message = sign_request(transfer_query(args.zone, qtype, args.serial), read_bind_key(args.key))
    before_kib, reset = rss_reset(args.pid)
    stream = bytearray()
    chunk = bytearray(1 << 20)
    with socket.create_connection(("127.0.0.1", args.port), timeout=args.timeout) as sock:
        started = last = time.monotonic()
        sock.sendall(struct.pack("!H", len(message)) + message)
        sock.settimeout(args.idle)
        while True:
            try:
                count = sock.recv_into(chunk)
            except socket.timeout:
                break
            if not count:
                break
            last = time.monotonic()
            stream += chunk[:count]
    peak_kib = rss_peak(args.pid)
    messages = transfer_messages(stream)
    record = {
        "server": args.server,
        "kind": args.qtype.lower(),
        "round": args.round,
        "seconds": round(last - started, 4),
        "bytes": len(stream),
        "messages": len(messages),
        **transfer_summary(messages),
        "rss_growth_mib": round(max(0, peak_kib - before_kib) / 1024, 1) if reset else None,
    }
    append_record(args.out, record)
    print(f"  {args.server:7} {args.qtype} {record['seconds']:.4f} s, {record['bytes']:,} bytes, "
          f"{record['messages']} messages, {record['records']} records, rcode {record['rcode']}, "
          f"{record['signed_messages']} signed, RSS +{record['rss_growth_mib']} MiB")
    complete = record["rcode"] == "NOERROR" and record["first_type"] == TYPE_SOA and record["last_type"] == TYPE_SOA
    if not complete:
        sys.exit(f"{args.server}: incomplete {args.qtype}: {record}")
    return 0


def cmd_serial(args):
    """Waits until the server's SOA serial differs from --not; prints it."""
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        try:
            packet = ask_tcp_raw(args.port, args.zone, TYPE_SOA, 1.0)
        except OSError:
            packet = None
        if packet:
            serial = soa_serial(packet)
            if serial is not None and serial != args.not_serial:
                print(serial)
                return 0
        time.sleep(0.05)
    sys.exit(f"port {args.port}: serial still {args.not_serial} after {args.timeout} s")


def ask_tcp_raw(port, qname, qtype, timeout):
    message = encode_query(qname, qtype, edns_size=4096)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(struct.pack("!H", len(message)) + message)
        length = struct.unpack("!H", recv_exactly(sock, 2))[0]
        return recv_exactly(sock, length)


def soa_serial(packet):
    _, _, qdcount, ancount, _, _ = struct.unpack_from("!HHHHHH", packet)
    offset = 12
    for _ in range(qdcount):
        offset = skip_name(packet, offset) + 4
    for _ in range(ancount):
        offset = skip_name(packet, offset)
        rtype, _, _, rdlength = struct.unpack_from("!HHIH", packet, offset)
        offset += 10
        if rtype == TYPE_SOA:
            rdata_end = offset + rdlength
            return struct.unpack_from("!I", packet, rdata_end - 20)[0]
        offset += rdlength
    return None


def cmd_transfer_report(args):
    """Medians per server and kind, and portsd's ratios to each other server, each the median
    of the per-round ratios (the servers of a round run back to back)."""
    with open(args.results) as lines:
        records = [json.loads(line) for line in lines if line.strip()]
    servers = [s for s in ("portsd", "nsd", "knot") if any(r["server"] == s for r in records)]
    meta = dict(item.split("=", 1) for item in args.meta)
    out = [f"# zone transfers, {meta.get('date', '?')}", ""]
    out += [f"{key}: {value}" for key, value in meta.items() if key != "date"]
    summary = {"meta": meta, "servers": {}, "ratios": {}}
    for kind in ("axfr", "ixfr"):
        rows = [r for r in records if r["kind"] == kind]
        if not rows:
            continue
        out += ["", f"## {kind.upper()} (medians of {max(r['round'] for r in rows)} rounds)", "",
                "| server | seconds | bytes | messages | records | signed messages | RSS growth MiB |",
                "|---|---:|---:|---:|---:|---:|---:|"]
        details = []
        for server in servers:
            mine = [r for r in rows if r["server"] == server]
            if not mine:
                continue
            medians = {key: median_of(mine, key) for key in
                       ("seconds", "bytes", "messages", "records", "signed_messages", "rss_growth_mib")}
            summary["servers"].setdefault(server, {})[kind] = medians
            out.append(f"| {server} | {medians['seconds']:.4f} | {fmt(medians['bytes'])} | "
                       f"{fmt(medians['messages'])} | {fmt(medians['records'])} | "
                       f"{fmt(medians['signed_messages'])} | {fmt(medians['rss_growth_mib'], '{:.1f}')} |")
            per_round = ", ".join(f"{r['seconds']:.4f}" for r in mine)
            details.append(f"{server} seconds per round: {per_round}")
        out += [""] + details
        if "portsd" in servers:
            for other in servers[1:]:
                time_ratio = paired_ratio(rows, kind, "seconds", "portsd", other)
                bytes_ratio = paired_ratio(rows, kind, "bytes", "portsd", other)
                summary["ratios"][f"portsd/{other} {kind}"] = {"seconds": time_ratio, "bytes": bytes_ratio}
                out += ["", f"portsd/{other}: time {time_ratio}, bytes {bytes_ratio}"]
    text = "\n".join(out) + "\n"
    with open(args.text_out, "w") as report:
        report.write(text)
    with open(args.json_out, "w") as report:
        json.dump(summary, report, indent=2)
    print(text)
    return 0


# ---------------------------------------------------------------------------------------------
# Report of benches/tls.sh

# What the issue asks of portsd against the best peer, for each DoT and DoH load.
TLS_TARGET_QPS = 1.5
TLS_TARGET_CPU = 0.7


# The per-round figures tls-report gives the median of.
TLS_MEDIANS = ("qps", "cpu_us_per_query", "user_us_per_query", "kernel_us_per_query", "server_cores_busy",
               "client_cores_busy", "reconnections", "response_bytes")


def tls_load_summary(rows):
    """Medians per server of one load (dot, doh-get-reconnect, ...), in the order they ran."""
    servers = {}
    for server in dict.fromkeys(r["server"] for r in rows):
        mine = [r for r in rows if r["server"] == server]
        entry = {key: median_of(mine, key) for key in TLS_MEDIANS}
        entry["qps_rounds"] = [round(r["qps"]) for r in mine if r.get("qps")]
        entry.update({key: sum(r[key] or 0 for r in mine) for key in ("lost", "sent")})
        entry["rcodes"] = mine[-1]["rcodes"]
        servers[server] = entry
    return servers


def cmd_tls_report(args):
    """Per load: each server's medians, and portsd against the best peer (the other server
    with the most queries/s), each ratio the median of the per-round ratios."""
    with open(args.results) as lines:
        records = [json.loads(line) for line in lines if line.strip()]
    pairs = [item.split("=", 1) for item in args.meta]
    meta = {key: value for key, value in pairs if key != "note"}
    notes = [value for key, value in pairs if key == "note"]
    summary = {"meta": meta, "notes": notes, "loads": {}}
    out = [f"# DNS over TLS and HTTPS, {meta.get('date', '?')}", ""]
    out += [f"{key}: {value}" for key, value in meta.items() if key != "date"]
    out += [f"note: {note}" for note in notes]
    out += ["", "| load | server | q/s | lost | CPU us/query (user + kernel) | server cores | client cores "
            "| response bytes |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    ratio_lines, details = [], []
    for kind in dict.fromkeys(r["kind"] for r in records if r.get("kind") not in (None, "agree")):
        rows = [r for r in records if r.get("kind") == kind]
        servers = tls_load_summary(rows)
        entry = {"servers": servers}
        for name, s in servers.items():
            out.append(
                f"| {kind} | {name} | {fmt(s['qps'])} | {s['lost']} | {fmt(s['cpu_us_per_query'], '{:.2f}')} "
                f"({fmt(s['user_us_per_query'], '{:.2f}')} + {fmt(s['kernel_us_per_query'], '{:.2f}')}) "
                f"| {fmt(s['server_cores_busy'], '{:.2f}')} | {fmt(s['client_cores_busy'], '{:.2f}')} "
                f"| {fmt(s['response_bytes'])} |"
            )
            details.append(f"{kind} {name}: q/s rounds [{', '.join(f'{q:,}' for q in s['qps_rounds'])}], "
                           f"reconnections {fmt(s['reconnections'])}, rcodes {s['rcodes']}")
            if s["sent"] and s["lost"] > s["sent"] / 100:
                details.append(f"warning: {kind} {name} lost {s['lost']:,} of {s['sent']:,} queries; "
                               "its figures measure the client's stalls, not the server")
        peers = {name: s for name, s in servers.items() if name != "portsd" and s["qps"]}
        if "portsd" in servers and peers:
            best = max(peers, key=lambda name: peers[name]["qps"])
            qps = paired_ratio(rows, kind, "qps", "portsd", best)
            cpu = paired_ratio(rows, kind, "cpu_us_per_query", "portsd", best)
            met = qps is not None and cpu is not None and qps >= TLS_TARGET_QPS and cpu <= TLS_TARGET_CPU
            entry.update({"best_peer": best, "qps_ratio": qps, "cpu_ratio": cpu, "target_met": met})
            ratio_lines.append(f"| {kind} | {best} | {fmt(qps, '{:.2f}')} | {fmt(cpu, '{:.2f}')} "
                               f"| {'yes' if met else 'no'} |")
        summary["loads"][kind] = entry
    if ratio_lines:
        out += ["", f"portsd against the best peer (most q/s); target q/s >= {TLS_TARGET_QPS}x at CPU/query "
                f"<= {TLS_TARGET_CPU}x; medians of per-round ratios:", "",
                "| load | best peer | q/s ratio | CPU/query ratio | target met |", "|---|---|---:|---:|---|"]
        out += ratio_lines
    agree = [r for r in records if r.get("kind") == "agree"]
    if agree:
        summary["answer_check"] = agree[-1]
        details.append(f"answer check (plain DNS): {agree[-1]['disagreement_count']} of {agree[-1]['checked']} "
                       f"sampled queries answered differently by {', '.join(agree[-1]['servers'])}")
    out += [""] + details
    text = "\n".join(out) + "\n"
    with open(args.text_out, "w") as report:
        report.write(text)
    with open(args.json_out, "w") as report:
        json.dump(summary, report, indent=2)
        report.write("\n")
    print(text, end="")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command_name", required=True)

    commands.add_parser("free-port").set_defaults(run=cmd_free_port)

    queries = commands.add_parser("queries")
    queries.add_argument("--zone-file", required=True)
    queries.add_argument("--zone", required=True)
    queries.add_argument("--out", required=True)
    queries.add_argument("--count", type=int, default=100_000)
    queries.add_argument("--seed", type=int, default=4242)
    queries.add_argument("--search-share", type=float, default=0.0,
                         help="the share of keyword searches (WORDS.search.ZONE) in the mix")
    queries.add_argument("--search-questions", help="tests/data/search-questions.tsv")
    queries.set_defaults(run=cmd_queries)

    doh_uris = commands.add_parser("doh-uris")
    doh_uris.add_argument("--queries", required=True)
    doh_uris.add_argument("--port", type=int, required=True)
    doh_uris.add_argument("--out", required=True)
    doh_uris.set_defaults(run=cmd_doh_uris)

    repeat = commands.add_parser("h2load-repeat")
    repeat.add_argument("--uris", required=True)
    repeat.add_argument("--duration", type=float, required=True)
    repeat.add_argument("--clients", type=int, default=100)
    repeat.add_argument("--per-connection", type=int, default=100)
    repeat.add_argument("--streams", type=int, default=10)
    repeat.set_defaults(run=cmd_h2load_repeat)

    ready = commands.add_parser("wait-ready")
    ready.add_argument("--port", type=int, required=True)
    ready.add_argument("--qname", required=True)
    ready.add_argument("--timeout", type=float, default=120)
    ready.set_defaults(run=cmd_wait_ready)

    rest = commands.add_parser("rest-memory")
    rest.add_argument("--server", required=True)
    rest.add_argument("--zones", type=int, required=True)
    rest.add_argument("--port", type=int, required=True)
    rest.add_argument("--qname", required=True)
    rest.add_argument("--ready-line", required=True)
    rest.add_argument("--ready-count", type=int, default=1)
    rest.add_argument("--timeout", type=float, default=120)
    rest.add_argument("--log", required=True)
    rest.add_argument("--out", required=True)
    rest.add_argument("command", nargs="+")
    rest.set_defaults(run=cmd_rest_memory)
    startup = commands.add_parser("startup")
    startup.add_argument("--server", required=True)
    startup.add_argument("--port", type=int, required=True)
    startup.add_argument("--qname", required=True)
    startup.add_argument("--runs", type=int, default=5)
    startup.add_argument("--timeout", type=float, default=120)
    startup.add_argument("--log", required=True)
    startup.add_argument("--out", required=True)
    startup.add_argument("command", nargs="+")
    startup.set_defaults(run=cmd_startup)

    measure = commands.add_parser("measure")
    measure.add_argument("--server", required=True)
    measure.add_argument("--kind", required=True)
    measure.add_argument("--round", type=int, default=1)
    measure.add_argument("--pid", type=int, required=True)
    measure.add_argument("--out", required=True)
    measure.add_argument("--sample-every", type=float, default=0)
    measure.add_argument("command", nargs="+")
    measure.set_defaults(run=cmd_measure)

    probe = commands.add_parser("probe")
    probe.add_argument("--server", action="append", required=True, help="NAME=PORT=PID")
    probe.add_argument("--round", type=int, default=1)
    probe.add_argument("--out", required=True)
    probe.add_argument("command", nargs="+")
    probe.set_defaults(run=cmd_probe)

    agree = commands.add_parser("agree")
    agree.add_argument("--queries", required=True)
    agree.add_argument("--server", action="append", required=True, help="NAME=PORT")
    agree.add_argument("--count", type=int, default=500)
    agree.add_argument("--seed", type=int, default=1)
    agree.add_argument("--out", required=True)
    agree.set_defaults(run=cmd_agree)

    for name, run in (("report", cmd_report), ("transfer-report", cmd_transfer_report),
                      ("tls-report", cmd_tls_report)):
        report = commands.add_parser(name)
        report.add_argument("--results", required=True)
        report.add_argument("--json-out", required=True)
        report.add_argument("--text-out", required=True)
        report.add_argument("--meta", action="append", default=[], help="KEY=VALUE")
        report.set_defaults(run=run)

    transfer = commands.add_parser("transfer")
    transfer.add_argument("--server", required=True)
    transfer.add_argument("--port", type=int, required=True)
    transfer.add_argument("--pid", type=int, required=True)
    transfer.add_argument("--zone", required=True)
    transfer.add_argument("--key", required=True, help="key file as tsig-keygen writes it")
    transfer.add_argument("--qtype", choices=("AXFR", "IXFR"), default="AXFR")
    transfer.add_argument("--serial", type=int, default=0, help="the client's serial, for IXFR")
    transfer.add_argument("--round", type=int, default=1)
    transfer.add_argument("--idle", type=float, default=1.0)
    transfer.add_argument("--timeout", type=float, default=30)
    transfer.add_argument("--out", required=True)
    transfer.set_defaults(run=cmd_transfer)

    serial = commands.add_parser("serial")
    serial.add_argument("--port", type=int, required=True)
    serial.add_argument("--zone", required=True)
    serial.add_argument("--not", dest="not_serial", type=int, default=-1)
    serial.add_argument("--timeout", type=float, default=120)
    serial.set_defaults(run=cmd_serial)

    args = parser.parse_args()
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
