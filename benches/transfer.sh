#!/usr/bin/env bash
# Zone transfers from portsd, NSD and Knot as primaries of the same zone, in one run: a full
# AXFR, then an IXFR after a one-entry change. See benches/README.md ("transfer.sh") for what
# is measured and how. Everything started here is stopped on exit.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$BENCH_DIR/.." && pwd)
TOOL=(python3 "$BENCH_DIR/benchtool.py")

ROUNDS=${ROUNDS:-5}                 # transfers of each kind per server
ZONE=${ZONE:-ports.internal}
SERVERS=${SERVERS:-"portsd nsd knot"}
RESULTS_DIR=${RESULTS_DIR:-$BENCH_DIR/results}
# shellcheck source=benches/lib.sh
source "$BENCH_DIR/lib.sh"

# The key every primary signs with, in BIND's form (what portsd reads) and NSD's and Knot's.
write_keys() {
	local secret
	secret=$(head -c 32 /dev/urandom | base64)
	printf 'key "bench-transfer" {\n\talgorithm hmac-sha256;\n\tsecret "%s";\n};\n' "$secret" >"$WORK_DIR/bind.key"
	printf 'key:\n  name: bench-transfer\n  algorithm: hmac-sha256\n  secret: "%s"\n' "$secret" >"$WORK_DIR/nsd.key"
	printf 'key:\n  - id: bench-transfer\n    algorithm: hmac-sha256\n    secret: %s\n' "$secret" >"$WORK_DIR/knot.key"
}

# The data portsd serves, copied; a second copy with the one-entry change. portsd's serial is
# the data files' newest modification time, so the served copy is left untouched until the
# change, which copies the changed file over with its time: portsd then serves the serial
# of the exported changed zone that NSD and Knot load.
prepare_data() {
	mkdir -p "$WORK_DIR/data"
	cp "$REPO_DIR"/data/{ports.tsv,port-list-excerpt.txt,iana-service-names-port-numbers.csv} "$WORK_DIR/data/"
	printf '# transfer.sh\n' >"$WORK_DIR/data/local.tsv"
	cp -a "$WORK_DIR/data" "$WORK_DIR/data-changed"
	printf '40001\ttcp\tbench-change\tthe one-entry change of transfer.sh\n' >>"$WORK_DIR/data-changed/local.tsv"
	# dated a minute later, so the changed data's serial is larger whatever the clock does
	touch -d "@$(($(stat -c %Y "$WORK_DIR/data/local.tsv") + 60))" "$WORK_DIR/data-changed/local.tsv"
	"$PORTSD" export-zone --zone "$ZONE" --data "$WORK_DIR/data" >"$WORK_DIR/zone-before.txt"
	"$PORTSD" export-zone --zone "$ZONE" --data "$WORK_DIR/data-changed" >"$WORK_DIR/zone-after.txt"
}

# NSD keeps the differences between zone file versions it reads (create-ixfr) to serve IXFR.
nsd_command() {
	local port=$1 dir=$WORK_DIR/nsd
	mkdir -p "$dir"
	{
		nsd_server_sections "$port" "$dir"
		cat <<-EOF
		include: "$WORK_DIR/nsd.key"
		zone:
		  name: $ZONE
		  zonefile: "$WORK_DIR/nsd-zone.txt"
		  provide-xfr: 127.0.0.1 bench-transfer
		  store-ixfr: yes
		  create-ixfr: yes
		EOF
	} >"$dir/nsd.conf"
	cp "$WORK_DIR/zone-before.txt" "$WORK_DIR/nsd-zone.txt"
	echo nsd -d -c "$dir/nsd.conf"
}

# Knot computes the difference when it reloads a changed zone file (zonefile-load: difference)
# and keeps it in its journal to serve IXFR.
knot_command() {
	local port=$1 dir=$WORK_DIR/knot
	mkdir -p "$dir/db"
	{
		knot_server_sections "$port" "$dir"
		cat <<-EOF
		include: "$WORK_DIR/knot.key"
		acl:
		  - id: bench
		    address: 127.0.0.1
		    key: bench-transfer
		    action: transfer
		template:
		  - id: default
		    storage: "$dir/db"
		    semantic-checks: off
		    zonefile-sync: -1
		    zonefile-load: difference
		    journal-content: changes
		zone:
		  - domain: $ZONE
		    file: "$WORK_DIR/knot-zone.txt"
		    acl: bench
		EOF
	} >"$dir/knot.conf"
	cp "$WORK_DIR/zone-before.txt" "$WORK_DIR/knot-zone.txt"
	echo knotd -c "$dir/knot.conf"
}

# Without --tsig-key (before portsd's TSIG lands) portsd serves the transfers unsigned, and the
# report's "signed messages" column shows it.
portsd_command() {
	local key=()
	"$PORTSD" serve --help | grep -q -- --tsig-key && key=(--tsig-key "$WORK_DIR/bind.key")
	echo "$PORTSD" serve --listen "127.0.0.1:$1" --zone "$ZONE" --data "$WORK_DIR/data" \
		"${key[@]}" --allow-transfer 127.0.0.1/32
}

# Starts server $1 on a free port.
start_on_free_port() {
	local name=$1
	SERVER_PORT[$name]=$("${TOOL[@]}" free-port)
	# shellcheck disable=SC2046 # the command line is split on purpose
	start_server "$name" $("${name}_command" "${SERVER_PORT[$name]}")
}

# The one-entry change: portsd reloads the changed data, NSD and Knot the zone portsd exports
# from it. Waits until each serves the new serial.
apply_change() {
	cp -p "$WORK_DIR/data-changed/local.tsv" "$WORK_DIR/data/local.tsv"
	cp "$WORK_DIR/zone-after.txt" "$WORK_DIR/nsd-zone.txt"
	cp "$WORK_DIR/zone-after.txt" "$WORK_DIR/knot-zone.txt"
	local name
	for name in $SERVERS; do
		kill -HUP "${SERVER_PID[$name]}"
	done
	for name in $SERVERS; do
		"${TOOL[@]}" serial --port "${SERVER_PORT[$name]}" --zone "$ZONE" --not "$SERIAL_BEFORE" >/dev/null
		log "$name serves the changed zone"
	done
}

transfer() {
	local name=$1 qtype=$2 round=$3
	"${CLIENT_PIN[@]}" "${TOOL[@]}" transfer --server "$name" --port "${SERVER_PORT[$name]}" \
		--pid "${SERVER_PID[$name]}" --zone "$ZONE" --key "$WORK_DIR/bind.key" --qtype "$qtype" \
		--serial "$SERIAL_BEFORE" --round "$round" --out "$RESULTS" >&2
}

main() {
	[[ "$(id -u)" -eq 0 ]] || log "warning: not root: RSS growth needs /proc/PID/clear_refs and is left out"
	ensure_packages nsd=nsd knotd=knot
	mkdir -p "$RESULTS_DIR"
	build_portsd
	if has_server portsd && ! "$PORTSD" serve --help | grep -q -- --allow-transfer; then
		log "this portsd has no zone transfers yet: measuring NSD and Knot only"
		SERVERS=${SERVERS//portsd/}
	fi
	RESULTS=$WORK_DIR/results.jsonl
	write_keys
	prepare_data
	SERIAL_BEFORE=$(awk '$4 == "SOA" { print $7; exit }' "$WORK_DIR/zone-before.txt")
	local name round
	for name in $SERVERS; do start_on_free_port "$name"; done

	log "AXFR: $ROUNDS rounds"
	for round in $(seq "$ROUNDS"); do
		for name in $(rotated "$round"); do transfer "$name" AXFR "$round"; done
	done
	apply_change
	log "IXFR from serial $SERIAL_BEFORE: $ROUNDS rounds"
	for round in $(seq "$ROUNDS"); do
		for name in $(rotated "$round"); do transfer "$name" IXFR "$round"; done
	done
	stop_servers

	local versions="NSD $(nsd -v 2>&1 | sed -n 's/^NSD version //p'), Knot $(knotd -V | sed -n 's/.*version //p')"
	has_server portsd && versions+=", portsd $(git -C "$REPO_DIR" describe --always --dirty 2>/dev/null || echo '?')"
	"${TOOL[@]}" transfer-report --results "$RESULTS" \
		--json-out "$RESULTS_DIR/transfer.json" --text-out "$RESULTS_DIR/transfer.txt" \
		--meta "date=$(date -u +%Y-%m-%dT%H:%MZ)" \
		--meta "servers=$SERVERS" \
		--meta "versions=$versions" \
		--meta "cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $(nproc) cores, kernel $(uname -r)" \
		--meta "zone=$ZONE, $(grep -cv '^[;$]' "$WORK_DIR/zone-before.txt") records, $(stat -c %s "$WORK_DIR/zone-before.txt") bytes as a master file" \
		--meta "setup=TSIG hmac-sha256 on every request; servers on CPUs ${SERVER_CPUS:-any}, client on CPUs ${CLIENT_CPUS:-any}; NSD server-count 1, Knot 1 UDP and 1 TCP worker" \
		--meta "change=one local.tsv row (40001/tcp) added; IXFR asked from serial $SERIAL_BEFORE"
	cp "$RESULTS" "$RESULTS_DIR/transfer.jsonl"
}

main "$@"
