#!/usr/bin/env bash
# Overload checks for a release portsd: floods it beyond what it can answer
# and checks that memory stays bounded, the process stays alive, and answers come back at once
# when the flood stops.
#
#   benches/flood.sh          three floods of FLOOD_DURATION s: UDP with rate limiting off, UDP
#                             with rate limiting on (loopback not exempt), TCP with more clients
#                             than --tcp-max-connections
#   benches/flood.sh soak     one SOAK_DURATION s run at SOAK_QPS with hostile traffic mixed in
#                             (random bytes, responses, pointer loops, slowloris connections);
#                             checks RSS does not creep and valid queries are not lost
#
# Prints one result block per run and exits non-zero when a check fails. Everything started
# here is stopped on exit. See benches/README.md.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$BENCH_DIR/.." && pwd)
TOOL=(python3 "$BENCH_DIR/benchtool.py")
MODE=${1:-flood}

FLOOD_DURATION=${FLOOD_DURATION:-20}            # seconds per flood
FLOOD_CLIENTS=${FLOOD_CLIENTS:-8}               # dnsperf -c: UDP sockets
FLOOD_THREADS=${FLOOD_THREADS:-2}               # dnsperf -T
FLOOD_OUTSTANDING=${FLOOD_OUTSTANDING:-5000}    # dnsperf -q: far more than portsd keeps up with
FLOOD_RATE_LIMIT=${FLOOD_RATE_LIMIT:-200}       # --rate-limit for the "on" flood (the default)
TCP_FLOOD_CLIENTS=${TCP_FLOOD_CLIENTS:-300}     # dnsperf -c in TCP mode
TCP_MAX_CONNECTIONS=${TCP_MAX_CONNECTIONS:-64}  # portsd --tcp-max-connections for that flood
RSS_GROWTH_LIMIT_MIB=${RSS_GROWTH_LIMIT_MIB:-32}  # most RSS growth allowed during a flood
RECOVERY_LIMIT_MS=${RECOVERY_LIMIT_MS:-500}     # most time for the first answer after a flood
SOAK_DURATION=${SOAK_DURATION:-300}
SOAK_QPS=${SOAK_QPS:-5000}                      # dnsperf -Q during the soak
SOAK_GROWTH_LIMIT_MIB=${SOAK_GROWTH_LIMIT_MIB:-8}  # RSS growth allowed after the first tenth
SOAK_LOSS_LIMIT_PCT=${SOAK_LOSS_LIMIT_PCT:-1}
SAMPLE_EVERY=${SAMPLE_EVERY:-0.5}               # seconds between RSS samples
ZONE=ports.local
QNAME=443.tcp.$ZONE

log() { printf '== %s\n' "$*" >&2; }

WORK_DIR=$(mktemp -d -t portsd-flood.XXXXXX)
SERVER_PID=""
HELPER_PIDS=()
stop_all() {
	local pid
	for pid in "${HELPER_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${HELPER_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
	HELPER_PIDS=()
	if [[ -n $SERVER_PID ]]; then
		kill -TERM "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
		SERVER_PID=""
	fi
}
cleanup() {
	stop_all
	rm -rf "$WORK_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for tool in dnsperf dig; do
	command -v "$tool" >/dev/null || {
		log "installing dnsperf and dig"
		apt-get update
		DEBIAN_FRONTEND=noninteractive apt-get install -y dnsperf bind9-dnsutils
		break
	}
done

PORTSD=${PORTSD:-}
if [[ -z $PORTSD ]]; then
	log "building portsd (release)"
	(cd "$REPO_DIR" && cargo build --release --quiet)
	PORTSD=${CARGO_TARGET_DIR:-$REPO_DIR/target}/release/portsd
fi

QUERIES=$WORK_DIR/queries.txt
"$PORTSD" export-zone --zone "$ZONE" >"$WORK_DIR/zone.txt"
"${TOOL[@]}" queries --zone-file "$WORK_DIR/zone.txt" --zone "$ZONE" --out "$QUERIES" >&2

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# Starts portsd with extra flags; sets SERVER_PID, PORT, METRICS_PORT.
start_portsd() {
	PORT=$("${TOOL[@]}" free-port)
	METRICS_PORT=$("${TOOL[@]}" free-port)
	"$PORTSD" serve --listen "127.0.0.1:$PORT" --zone "$ZONE" \
		--metrics "127.0.0.1:$METRICS_PORT" "$@" 2>"$WORK_DIR/portsd.log" &
	SERVER_PID=$!
	"${TOOL[@]}" wait-ready --port "$PORT" --qname "$QNAME" --timeout 60
}

# Samples the server's RSS into $1 until killed.
sample_rss() {
	while kill -0 "$SERVER_PID" 2>/dev/null; do
		rss_kib "$SERVER_PID" >>"$1"
		sleep "$SAMPLE_EVERY"
	done
}

# One dig from source address $1; prints "STATUS FLAGS MS" (STATUS "none" when unanswered).
probe() {
	local started out status flags
	started=$(now_ms)
	out=$(dig +tries=1 +time=2 -b "$1" -p "$PORT" @127.0.0.1 "$QNAME" TXT 2>&1 || true)
	status=$(sed -n 's/.*status: \([A-Z]*\),.*/\1/p' <<<"$out" | head -1)
	flags=$(sed -n 's/.*;; flags: \([a-z ]*\);.*/\1/p' <<<"$out" | head -1 | tr ' ' ',')
	echo "${status:-none} ${flags:--} $(($(now_ms) - started))"
}

metric() {
	python3 - "$METRICS_PORT" "$1" <<'EOF'
import sys, urllib.request
page = urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/metrics", timeout=5).read().decode()
total = sum(float(line.rsplit(" ", 1)[1]) for line in page.splitlines()
            if line.startswith(sys.argv[2]))
print(int(total))
EOF
}

dnsperf_field() { sed -n "s/^ *$1: *\([0-9.]*\).*/\1/p" "$2" | head -1; }

FAILED=0
check() { # check DESCRIPTION COMMAND...
	if "${@:2}"; then echo "  ok    $1"; else echo "  FAIL  $1"; FAILED=1; fi
}

# flood NAME DNSPERF_MODE_ARGS -- PORTSD_ARGS
flood() {
	local name=$1 perf_args=() serve_args=()
	shift
	while [[ $# -gt 0 && $1 != -- ]]; do perf_args+=("$1"); shift; done
	shift
	serve_args=("$@")
	log "flood: $name"
	start_portsd "${serve_args[@]}"
	local rss_file=$WORK_DIR/rss.$name perf_out=$WORK_DIR/dnsperf.$name
	local start_rss
	start_rss=$(rss_kib "$SERVER_PID")
	: >"$rss_file"
	sample_rss "$rss_file" &
	HELPER_PIDS+=($!)
	(sleep $((FLOOD_DURATION / 2)) && probe 127.0.1.1 >"$WORK_DIR/mid.$name") &
	HELPER_PIDS+=($!)
	dnsperf -s 127.0.0.1 -p "$PORT" -d "$QUERIES" -l "$FLOOD_DURATION" -t 2 "${perf_args[@]}" \
		>"$perf_out" 2>&1 || true
	local after_same after_other alive=no state
	after_same=$(probe 127.0.0.1)
	after_other=$(probe 127.0.1.1)
	state=$(awk '{ print $3 }' "/proc/$SERVER_PID/stat" 2>/dev/null || echo gone)
	[[ $state != gone && $state != Z ]] && alive=yes
	local peak_rss end_rss dropped slipped sent completed qps mid
	peak_rss=$(sort -n "$rss_file" | tail -1)
	end_rss=$(rss_kib "$SERVER_PID")
	dropped=$(metric 'portsd_rate_limited_total{action="drop"}' || echo "?")
	slipped=$(metric 'portsd_rate_limited_total{action="slip"}' || echo "?")
	mid=$(cat "$WORK_DIR/mid.$name" 2>/dev/null || echo "none - 0")
	stop_all
	sent=$(dnsperf_field "Queries sent" "$perf_out")
	completed=$(sed -n 's/^ *Queries completed: *\([0-9]*\) *(\([0-9.]*%\)).*/\1 (\2)/p' "$perf_out")
	qps=$(dnsperf_field "Queries per second" "$perf_out")
	echo "--- flood $name: ${FLOOD_DURATION}s, dnsperf ${perf_args[*]}"
	echo "  portsd flags        ${serve_args[*]:-(defaults)}"
	echo "  dnsperf             sent ${sent:-?}, completed ${completed:-?}, ${qps:-?} q/s"
	echo "  rate limited        dropped $dropped, slipped $slipped"
	echo "  RSS MiB             start $((start_rss / 1024)), peak $((${peak_rss:-0} / 1024)), end $((end_rss / 1024))"
	echo "  other /24 mid-flood ${mid}  (status flags ms)"
	echo "  after, same /24     ${after_same}"
	echo "  after, other /24    ${after_other}"
	check "process alive after the flood" test "$alive" = yes
	check "RSS growth under ${RSS_GROWTH_LIMIT_MIB} MiB" \
		test $((${peak_rss:-0} - start_rss)) -lt $((RSS_GROWTH_LIMIT_MIB * 1024))
	check "answered at once from another /24 (under ${RECOVERY_LIMIT_MS} ms)" \
		recovered "$after_other"
	check "answered at once from the flooding /24" recovered "$after_same"
}

recovered() { # "STATUS FLAGS MS"
	local status flags ms
	read -r status flags ms <<<"$1"
	[[ $status == NOERROR && $ms -lt $RECOVERY_LIMIT_MS ]]
}

# Random bytes, responses and pointer loops at about RATE packets/s, plus CONNS TCP connections
# that send one octet and then nothing (reopened when the server closes them).
hostile_traffic() {
	exec python3 - "$PORT" "$1" "$2" <<'EOF'
import random, socket, sys, time
port, rate, conns = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(6)
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
response = (b"\xab\xcd\x81\x80\x00\x01\x00\x00\x00\x00\x00\x00"
            b"\x03443\x03tcp\x05ports\x05local\x00\x00\x10\x00\x01")
loop = bytes.fromhex("beef01000001000000000000c00c00100001")
idle = []
while True:
    idle = [s for s in idle if s.fileno() != -1]
    while len(idle) < conns:
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"\x00")
        s.setblocking(False)
        idle.append(s)
    for s in list(idle):
        try:
            if s.recv(1) == b"":
                s.close()
        except BlockingIOError:
            pass
    started = time.monotonic()
    for i in range(rate // 10):
        kind = i % 3
        packet = (bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 600)))
                  if kind == 0 else response if kind == 1 else loop)
        udp.sendto(packet, ("127.0.0.1", port))
    time.sleep(max(0.0, 0.1 - (time.monotonic() - started)))
EOF
}

soak() {
	log "soak: ${SOAK_DURATION}s at ${SOAK_QPS} q/s with hostile traffic"
	start_portsd --tcp-idle-timeout 5
	local rss_file=$WORK_DIR/rss.soak perf_out=$WORK_DIR/dnsperf.soak
	: >"$rss_file"
	SAMPLE_EVERY=$(((SOAK_DURATION + 99) / 100)) sample_rss "$rss_file" &
	HELPER_PIDS+=($!)
	hostile_traffic 1000 50 &
	HELPER_PIDS+=($!)
	dnsperf -s 127.0.0.1 -p "$PORT" -d "$QUERIES" -l "$SOAK_DURATION" -Q "$SOAK_QPS" -t 2 \
		>"$perf_out" 2>&1 || true
	local after alive=no state samples warm last lost_pct
	after=$(probe 127.0.0.1)
	state=$(awk '{ print $3 }' "/proc/$SERVER_PID/stat" 2>/dev/null || echo gone)
	[[ $state != gone && $state != Z ]] && alive=yes
	stop_all
	samples=$(wc -l <"$rss_file")
	warm=$(sed -n "$((samples / 10 + 1))p" "$rss_file")
	last=$(tail -1 "$rss_file")
	lost_pct=$(sed -n 's/^ *Queries lost: *[0-9]* *(\([0-9.]*\)%).*/\1/p' "$perf_out")
	echo "--- soak: ${SOAK_DURATION}s, dnsperf -Q $SOAK_QPS, 1000 hostile packets/s, 50 slowloris"
	echo "  dnsperf             $(grep -E 'Queries (completed|lost)' "$perf_out" | tr -s ' ' | tr '\n' ' ')"
	echo "  RSS MiB             after a tenth $((warm / 1024)), end $((last / 1024)), peak $(($(sort -n "$rss_file" | tail -1) / 1024))"
	echo "  RSS MiB by tenths   $(awk -v n="$samples" 'NR % int((n + 9) / 10) == 0 { printf "%d ", $1 / 1024 }' "$rss_file")"
	echo "  after the soak      ${after}"
	check "process alive" test "$alive" = yes
	check "RSS creep under ${SOAK_GROWTH_LIMIT_MIB} MiB" \
		test $((last - warm)) -lt $((SOAK_GROWTH_LIMIT_MIB * 1024))
	check "valid queries lost under ${SOAK_LOSS_LIMIT_PCT}%" \
		python3 -c "import sys; sys.exit(float('${lost_pct:-100}') >= ${SOAK_LOSS_LIMIT_PCT})"
	check "answered at once after the soak" recovered "$after"
}

echo "portsd overload run, $(date -u +%FT%TZ), load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
case $MODE in
flood)
	flood udp-rrl-off -c "$FLOOD_CLIENTS" -T "$FLOOD_THREADS" -q "$FLOOD_OUTSTANDING" \
		-- --rate-limit 0
	# The default exempts loopback; exempting a documentation network instead limits dnsperf.
	flood udp-rrl-on -c "$FLOOD_CLIENTS" -T "$FLOOD_THREADS" -q "$FLOOD_OUTSTANDING" \
		-- --rate-limit "$FLOOD_RATE_LIMIT" --rate-limit-exempt 192.0.2.0/32
	flood tcp -m tcp -c "$TCP_FLOOD_CLIENTS" -T "$FLOOD_THREADS" -q "$FLOOD_OUTSTANDING" \
		-- --rate-limit 0 --tcp-max-connections "$TCP_MAX_CONNECTIONS"
	;;
soak) soak ;;
*)
	echo "usage: $0 [flood|soak]" >&2
	exit 2
	;;
esac
exit "$FAILED"
