#!/usr/bin/env bash
# Compares portsd with NSD and Knot on this machine: same zone, same query file, same dnsperf
# load, servers measured in alternation. See benches/README.md for what is measured and how to
# read it. Everything started here is stopped on exit.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$BENCH_DIR/.." && pwd)
TOOL=(python3 "$BENCH_DIR/benchtool.py")

# Knobs (environment). Defaults keep a whole run around eight minutes on 2 cores.
ROUNDS=${ROUNDS:-5}                          # UDP throughput rounds per server
DURATION=${DURATION:-10}                     # seconds per UDP throughput round
TCP_ROUNDS=${TCP_ROUNDS:-1}
TCP_DURATION=${TCP_DURATION:-$DURATION}
TCP_CLIENTS=${TCP_CLIENTS:-10}               # dnsperf -c: TCP connections
LATENCY_ROUNDS=${LATENCY_ROUNDS:-9}             # p99 is noisy here: more, shorter rounds
LATENCY_DURATION=${LATENCY_DURATION:-5}
LATENCY_QPS=${LATENCY_QPS:-20000}            # fixed offered load for p50/p99 (dnsperf -Q)
PROBE_ROUNDS=${PROBE_ROUNDS:-$LATENCY_ROUNDS}   # latency probe (benches/probe.rs) rounds; 0 skips
PROBE_QPS=${PROBE_QPS:-10000}                # probe rate to each server (all asked at once)
FLAT_DURATION=${FLAT_DURATION:-60}           # portsd RSS flatness run under load; 0 skips it
STARTUP_RUNS=${STARTUP_RUNS:-5}              # 0 skips the startup measurement
ZONE_COUNTS=${ZONE_COUNTS-"1 2 3"}           # portsd's RSS at rest serving this many zones; "" skips
SEARCH_ROUNDS=${SEARCH_ROUNDS:-3}            # portsd alone: the plain mix, then one with searches
SEARCH_DURATION=${SEARCH_DURATION:-5}        # seconds per mix and round; 0 skips the search mix
SEARCH_SHARE=${SEARCH_SHARE:-0.10}           # share of WORDS.search.ZONE names in that mix
OUTSTANDING=${OUTSTANDING:-100}              # dnsperf -q
QUERY_COUNT=${QUERY_COUNT:-100000}
QUERY_SEED=${QUERY_SEED:-4242}
ZONE=${ZONE:-ports.local}
SERVERS=${SERVERS:-"portsd portsd-dnstap nsd knot"}   # portsd-dnstap: portsd with --dnstap on
NSD_SERVER_COUNT=${NSD_SERVER_COUNT:-1}
KNOT_UDP_WORKERS=${KNOT_UDP_WORKERS:-1}
KNOT_TCP_WORKERS=${KNOT_TCP_WORKERS:-1}
PORTSD_ARGS=${PORTSD_ARGS:-}                 # extra flags for `portsd serve`
ZONE_FILE=${ZONE_FILE:-}                     # use this master file instead of `portsd export-zone`
RESULTS_DIR=${RESULTS_DIR:-$BENCH_DIR/results}
if [[ ${STARTUP_ONLY:-} == 1 ]]; then                # the startup column alone, in a minute or two
	ROUNDS=0 TCP_ROUNDS=0 LATENCY_ROUNDS=0 PROBE_ROUNDS=0 SEARCH_DURATION=0 FLAT_DURATION=0 ZONE_COUNTS=""
fi
# shellcheck source=benches/lib.sh
source "$BENCH_DIR/lib.sh"

# --- tools ------------------------------------------------------------------------------------

PROBE=""
build_probe() {
	log "building the latency probe (release)"
	PROBE=$(cd "$REPO_DIR" && cargo build --release --quiet --bench probe --message-format json |
		python3 -c 'import json, sys
for line in sys.stdin:
    found = json.loads(line)
    if found.get("executable") and found["target"]["name"] == "probe": print(found["executable"])')
}

# --- servers ----------------------------------------------------------------------------------

# portsd runs with its defaults: rate limiting stays on, and dnsperf on loopback is exempt from
# it as every loopback client is, so each answer still pays for the check.
portsd_command() {
	# shellcheck disable=SC2086 # PORTSD_ARGS is a list of flags
	echo "$PORTSD" serve --listen "127.0.0.1:$1" --zone "$ZONE" $PORTSD_ARGS
}

# The dnstap collector portsd-dnstap writes to: fstrm_capture on a Unix socket, discarding
# what it reads (its own cost is the collector's, not portsd's).
DNSTAP_SOCKET=$WORK_DIR/dnstap.sock
start_collector() {
	setsid fstrm_capture -t protobuf:dnstap.Dnstap -u "$DNSTAP_SOCKET" -w /dev/null \
		>"$WORK_DIR/fstrm_capture.log" 2>&1 &
	SERVER_PID[fstrm_capture]=$!
	for _ in $(seq 100); do
		[[ -S "$DNSTAP_SOCKET" ]] && return
		sleep 0.05
	done
	log "fstrm_capture did not open $DNSTAP_SOCKET"
	exit 1
}

write_nsd_config() {
	local port=$1 dir=$WORK_DIR/nsd-$1
	mkdir -p "$dir"
	{
		nsd_server_sections "$port" "$dir" "$NSD_SERVER_COUNT"
		cat <<-EOF
		zone:
		  name: $ZONE
		  zonefile: "$WORK_DIR/zone.txt"
		EOF
	} >"$dir/nsd.conf"
	echo "$dir/nsd.conf"
}

write_knot_config() {
	local port=$1 dir=$WORK_DIR/knot-$1
	mkdir -p "$dir/db"
	{
		knot_server_sections "$port" "$dir" "$KNOT_UDP_WORKERS" "$KNOT_TCP_WORKERS"
		cat <<-EOF
		template:
		  - id: default
		    storage: "$dir/db"
		    semantic-checks: off
		    zonefile-sync: -1
		    zonefile-load: whole
		    journal-content: none
		zone:
		  - domain: $ZONE
		    file: "$WORK_DIR/zone.txt"
		EOF
	} >"$dir/knot.conf"
	echo "$dir/knot.conf"
}

# The command line that runs server $1 in the foreground on port $2.
server_command() {
	case $1 in
	portsd) portsd_command "$2" ;;
	portsd-dnstap) echo "$(portsd_command "$2")" --dnstap "unix:$DNSTAP_SOCKET" ;;
	nsd) echo nsd -d -c "$(write_nsd_config "$2")" ;;
	knot) echo knotd -c "$(write_knot_config "$2")" ;;
	*)
		log "unknown server $1"
		exit 2
		;;
	esac
}

# --- measurements -----------------------------------------------------------------------------

RESULTS=$WORK_DIR/results.jsonl
QUERIES=$WORK_DIR/queries.txt
SEARCH_QUERIES=$WORK_DIR/search-queries.txt

# dnsperf against server $1; $2 kind, $3 round, the rest extra dnsperf flags. SAMPLE_EVERY=N
# also samples the server's memory every N seconds; QUERY_FILE replaces the query mix.
measure() {
	local name=$1 kind=$2 round=$3
	shift 3
	"${TOOL[@]}" measure --server "$name" --kind "$kind" --round "$round" \
		--pid "${SERVER_PID[$name]}" --out "$RESULTS" --sample-every "${SAMPLE_EVERY:-0}" -- \
		"${CLIENT_PIN[@]}" dnsperf -s 127.0.0.1 -p "${SERVER_PORT[$name]}" -d "${QUERY_FILE:-$QUERIES}" \
		-q "$OUTSTANDING" "$@"
}

main() {
	local load
	load=$(cut -d' ' -f1 /proc/loadavg)
	if python3 -c "import sys; sys.exit(0 if float('$load') < 0.5 else 1)"; then :; else
		log "warning: load average is $load before starting; other work will skew the numbers"
	fi
	ensure_packages nsd=nsd knotd=knot dnsperf=dnsperf
	mkdir -p "$RESULTS_DIR"
	if has_server portsd || has_server portsd-dnstap; then build_portsd; fi
	if has_server portsd-dnstap; then
		ensure_packages fstrm_capture=fstrm-bin
		start_collector
	fi
	if ((PROBE_ROUNDS > 0)); then build_probe; fi

	if [[ -n "$ZONE_FILE" ]]; then
		log "zone from $ZONE_FILE"
		cp "$ZONE_FILE" "$WORK_DIR/zone.txt"
	else
		log "zone from portsd export-zone"
		"$PORTSD" export-zone --zone "$ZONE" >"$WORK_DIR/zone.txt"
	fi
	local zone_records
	zone_records=$(grep -cE '^[^;$[:space:]]|^[[:space:]]+[^;[:space:]]' "$WORK_DIR/zone.txt" || true)
	"${TOOL[@]}" queries --zone-file "$WORK_DIR/zone.txt" --zone "$ZONE" --out "$QUERIES" \
		--count "$QUERY_COUNT" --seed "$QUERY_SEED" >&2

	local name port
	for name in $SERVERS; do
		port=$("${TOOL[@]}" free-port)
		SERVER_PORT[$name]=$port
		# shellcheck disable=SC2046 # the command line is split on purpose
		start_server "$name" $(server_command "$name" "$port")
	done

	local agree_args=()
	for name in $SERVERS; do agree_args+=(--server "$name=${SERVER_PORT[$name]}"); done
	log "checking that the servers give the same answers"
	"${TOOL[@]}" agree --queries "$QUERIES" "${agree_args[@]}" --out "$RESULTS" >&2

	local round
	log "UDP throughput: $ROUNDS rounds x ${DURATION}s, dnsperf -q $OUTSTANDING"
	for round in $(seq "$ROUNDS"); do
		for name in $(rotated "$round"); do measure "$name" udp "$round" -l "$DURATION"; done
	done
	if has_server portsd && ((SEARCH_DURATION > 0)); then
		# The same mix with SEARCH_SHARE of its names replaced by searches for everyday
		# questions, against the plain mix in the same round (portsd only: the others cannot).
		"${TOOL[@]}" queries --zone-file "$WORK_DIR/zone.txt" --zone "$ZONE" --out "$SEARCH_QUERIES" \
			--count "$QUERY_COUNT" --seed "$QUERY_SEED" --search-share "$SEARCH_SHARE" \
			--search-questions "$REPO_DIR/tests/data/search-questions.tsv" >&2
		log "UDP throughput with ${SEARCH_SHARE} searches: $SEARCH_ROUNDS rounds x ${SEARCH_DURATION}s per mix"
		for round in $(seq "$SEARCH_ROUNDS"); do
			measure portsd mix_plain "$round" -l "$SEARCH_DURATION"
			QUERY_FILE=$SEARCH_QUERIES measure portsd mix_search "$round" -l "$SEARCH_DURATION"
		done
	fi
	log "UDP latency at $LATENCY_QPS q/s: $LATENCY_ROUNDS rounds x ${LATENCY_DURATION}s"
	for round in $(seq "$LATENCY_ROUNDS"); do
		for name in $(rotated "$round"); do
			measure "$name" latency "$round" -l "$LATENCY_DURATION" -Q "$LATENCY_QPS" -v
		done
	done
	log "UDP latency probe, all servers side by side at $PROBE_QPS q/s each: $PROBE_ROUNDS rounds x ${LATENCY_DURATION}s"
	for round in $(seq "$PROBE_ROUNDS"); do
		local probe_args=()
		for name in $(rotated "$round"); do
			probe_args+=(--server "$name=${SERVER_PORT[$name]}=${SERVER_PID[$name]}")
		done
		"${TOOL[@]}" probe --round "$round" --out "$RESULTS" "${probe_args[@]}" -- \
			"${CLIENT_PIN[@]}" "$PROBE" --queries "$QUERIES" --rate "$PROBE_QPS" --duration "$LATENCY_DURATION"
	done
	log "TCP throughput: $TCP_ROUNDS rounds x ${TCP_DURATION}s, $TCP_CLIENTS connections"
	for round in $(seq "$TCP_ROUNDS"); do
		for name in $(rotated "$round"); do
			measure "$name" tcp "$round" -m tcp -c "$TCP_CLIENTS" -l "$TCP_DURATION"
		done
	done
	if has_server portsd && ((FLAT_DURATION > 0)); then
		log "portsd RSS under load for ${FLAT_DURATION}s"
		SAMPLE_EVERY=10 measure portsd flat 1 -l "$FLAT_DURATION"
	fi
	stop_servers

	if has_server portsd && [[ -n $ZONE_COUNTS ]]; then
		# Every zone answers from the one table: what an extra zone costs is its apex records,
		# digest and journal. Measured once the start-up work (each zone's digest) is done.
		log "portsd RSS at rest serving $ZONE_COUNTS zone(s)"
		local count zones
		for count in $ZONE_COUNTS; do
			port=$("${TOOL[@]}" free-port)
			zones=("--zone" "$ZONE")
			for extra in $(seq 2 "$count"); do zones+=("--zone" "ports$extra.internal"); done
			# shellcheck disable=SC2046,SC2086 # the command line is split on purpose
			"${TOOL[@]}" rest-memory --server portsd-zones --zones "$count" --port "$port" \
				--qname "443.tcp.$ZONE" --ready-line "zone digest (ZONEMD) computed" \
				--ready-count "$count" --log "$WORK_DIR/portsd-zones-$count.log" --out "$RESULTS" \
				-- $(portsd_command "$port") "${zones[@]:2}" >&2
		done
	fi

	if ((STARTUP_RUNS > 0)); then
		log "startup: exec to first answer, $STARTUP_RUNS runs each"
		for name in $SERVERS; do
			# The same start as portsd's, and its collector is stopped by now.
			[[ $name == portsd-dnstap ]] && continue
			port=$("${TOOL[@]}" free-port)
			# shellcheck disable=SC2046 # the command line is split on purpose
			"${TOOL[@]}" startup --server "$name" --port "$port" --qname "443.tcp.$ZONE" \
				--runs "$STARTUP_RUNS" --log "$WORK_DIR/$name-startup.log" --out "$RESULTS" \
				-- $(server_command "$name" "$port") >&2
		done
	fi

	local versions="dnsperf $(dnsperf -h 2>&1 | sed -n 's/^Version //p')"
	has_server nsd && versions+=", NSD $(nsd -v 2>&1 | sed -n 's/^NSD version //p')"
	has_server knot && versions+=", Knot $(knotd -V | sed -n 's/.*version //p')"
	has_server portsd && versions+=", portsd $(git -C "$REPO_DIR" describe --always --dirty 2>/dev/null || echo '?')"
	"${TOOL[@]}" report --results "$RESULTS" \
		--json-out "$RESULTS_DIR/latest.json" --text-out "$RESULTS_DIR/latest.txt" \
		--meta "servers=$SERVERS" \
		--meta "date=$(date -u +%Y-%m-%dT%H:%MZ)" \
		--meta "cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)" \
		--meta "cores=$(nproc)" \
		--meta "kernel=$(uname -r)" \
		--meta "loadavg_before=$load" \
		--meta "versions=$versions" \
		--meta "zone=$ZONE" \
		--meta "zone_records=$zone_records" \
		--meta "query_count=$QUERY_COUNT" \
		--meta "query_seed=$QUERY_SEED" \
		--meta "search_share=$SEARCH_SHARE" \
		--meta "setup=NSD server-count $NSD_SERVER_COUNT; Knot udp-workers $KNOT_UDP_WORKERS, tcp-workers $KNOT_TCP_WORKERS; RRL off in NSD and Knot; portsd serve with its defaults (rate limiting on, loopback exempt) $PORTSD_ARGS; servers on CPUs ${SERVER_CPUS:-any}, dnsperf on CPUs ${CLIENT_CPUS:-any}" \
		--meta "load=dnsperf -q $OUTSTANDING, 1 client; UDP $ROUNDS x ${DURATION}s; latency $LATENCY_ROUNDS x ${LATENCY_DURATION}s at $LATENCY_QPS q/s; probe $PROBE_ROUNDS x ${LATENCY_DURATION}s, servers side by side at $PROBE_QPS q/s each; TCP $TCP_ROUNDS x ${TCP_DURATION}s with $TCP_CLIENTS connections; search mix $SEARCH_ROUNDS x ${SEARCH_DURATION}s"
	cp "$RESULTS" "$RESULTS_DIR/latest.jsonl"
	log "results: $RESULTS_DIR/latest.txt, latest.json, latest.jsonl"
}

main "$@"
