# Shared by compare.sh, transfer.sh, http.sh and tls.sh (sourced, not run): CPU pinning, logging, installing the
# servers, building portsd, starting servers in process groups, stopping them on exit, and the
# rotating round order. The caller sets BENCH_DIR, REPO_DIR, TOOL, SERVERS and ZONE first.

# CPU pinning (taskset lists; set to empty for none). On 2 cores the servers get core 0 and
# the load generator or client core 1, so the two do not take turns on the same core and the
# scheduler's placement is not part of what is measured.
if (($(nproc) >= 2)); then
	SERVER_CPUS=${SERVER_CPUS-0}
	CLIENT_CPUS=${CLIENT_CPUS-1}
else
	SERVER_CPUS=${SERVER_CPUS-}
	CLIENT_CPUS=${CLIENT_CPUS-}
fi
SERVER_PIN=() CLIENT_PIN=()
[[ -n "$SERVER_CPUS" ]] && SERVER_PIN=(taskset -c "$SERVER_CPUS")
[[ -n "$CLIENT_CPUS" ]] && CLIENT_PIN=(taskset -c "$CLIENT_CPUS")

log() { printf '== %s\n' "$*" >&2; }
has_server() { [[ " $SERVERS " == *" $1 "* ]]; }

WORK_DIR=$(mktemp -d -t "portsd-$(basename "$0" .sh).XXXXXX")
declare -A SERVER_PID=() SERVER_PORT=()

# SIGTERM goes to the server's main process only, which stops and reaps its own children (NSD
# forks); whatever is left of the process group after 5 s is killed.
stop_servers() {
	local name pid
	for name in "${!SERVER_PID[@]}"; do
		kill -TERM "${SERVER_PID[$name]}" 2>/dev/null || true
	done
	for name in "${!SERVER_PID[@]}"; do
		pid=${SERVER_PID[$name]}
		for _ in $(seq 50); do
			ps -o stat= --sid "$pid" | grep -qv '^Z' || break
			sleep 0.1
		done
		kill -KILL -- "-$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		unset "SERVER_PID[$name]"
	done
}
cleanup() {
	stop_servers
	if [[ -n "${KEEP_WORK_DIR:-}" ]]; then log "work files kept in $WORK_DIR"; else rm -rf "$WORK_DIR"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Installs the Debian packages named as COMMAND=PACKAGE whose command is missing (apt-get update
# runs only then).
ensure_packages() {
	local missing=() pair
	for pair in "$@"; do
		command -v "${pair%%=*}" >/dev/null || PATH=$PATH:/usr/sbin:/sbin command -v "${pair%%=*}" >/dev/null ||
			missing+=("${pair#*=}")
	done
	if ((${#missing[@]})); then
		log "installing ${missing[*]}"
		apt-get update
		DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
	fi
	PATH=$PATH:/usr/sbin:/sbin
}

# The portsd binary: PORTSD from the environment if set (a build of another branch, say),
# otherwise the release build of this tree.
PORTSD=${PORTSD:-}
build_portsd() {
	if [[ -n "$PORTSD" ]]; then
		log "using $PORTSD"
		return
	fi
	log "building portsd (release)"
	(cd "$REPO_DIR" && cargo build --release --quiet)
	local target_dir
	target_dir=$(cd "$REPO_DIR" && cargo metadata --format-version 1 --no-deps |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
	PORTSD=$target_dir/release/portsd
}

# Starts server $1 (port in SERVER_PORT[$1]) with the command line that follows, in its own
# process group (so its children stop with it), and waits until it answers from the zone.
start_server() {
	local name=$1
	shift
	local port=${SERVER_PORT[$name]}
	setsid "${SERVER_PIN[@]}" "$@" >"$WORK_DIR/$name.log" 2>&1 &
	SERVER_PID[$name]=$!
	if ! "${TOOL[@]}" wait-ready --port "$port" --qname "443.tcp.$ZONE" --timeout 300; then
		tail -n 20 "$WORK_DIR/$name.log" >&2
		exit 1
	fi
	log "$name ready on 127.0.0.1:$port (pid ${SERVER_PID[$name]})"
}

# The servers in a different order each round, so none always runs first or last.
rotated() {
	local -a list
	read -ra list <<<"$SERVERS"
	local shift_by=$(($1 % ${#list[@]}))
	echo "${list[@]:shift_by}" "${list[@]:0:shift_by}"
}

# NSD's server and remote-control sections for a bench instance on 127.0.0.1:$1 with its files
# in $2: one server process ($3, default 1), no chroot, no user switch, no rate limiting.
nsd_server_sections() {
	local port=$1 dir=$2 count=${3:-1}
	cat <<-EOF
		server:
		  ip-address: 127.0.0.1
		  port: $port
		  server-count: $count
		  username: ""
		  chroot: ""
		  zonesdir: "$dir"
		  database: ""
		  zonelistfile: "$dir/zone.list"
		  xfrdfile: "$dir/xfrd.state"
		  xfrdir: "$dir"
		  pidfile: "$dir/nsd.pid"
		  rrl-ratelimit: 0
		  rrl-whitelist-ratelimit: 0
		  verbosity: 1
		remote-control:
		  control-enable: no
	EOF
}

# Knot's server, database and log sections for a bench instance on 127.0.0.1:$1 with its files
# in $2: $3 UDP and $4 TCP workers (default 1 each), notices to stderr.
knot_server_sections() {
	local port=$1 dir=$2 udp=${3:-1} tcp=${4:-1}
	cat <<-EOF
		server:
		    rundir: "$dir"
		    pidfile: "$dir/knot.pid"
		    listen: 127.0.0.1@$port
		    udp-workers: $udp
		    tcp-workers: $tcp
		    background-workers: 1
		database:
		    storage: "$dir/db"
		log:
		  - target: stderr
		    any: notice
	EOF
}

# The report's --meta arguments about the run's moment and machine, one a line: date, CPU
# model, cores, kernel, and the load average now (call it after the runs; $1 is the one from
# before them).
machine_meta() {
	printf '%s\n' --meta "date=$(date -u +%Y-%m-%dT%H:%MZ)" \
		--meta "cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)" \
		--meta "cores=$(nproc)" --meta "kernel=$(uname -r)" \
		--meta "loadavg_before=$1" --meta "loadavg_after=$(cut -d' ' -f1 /proc/loadavg)"
}
