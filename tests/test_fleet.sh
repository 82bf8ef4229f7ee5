#!/usr/bin/env bash
# The slow suite's fleet test: `iob fleet` over ssh to this machine's
# loopback. Starts its own sshd on 127.0.0.1 (a free port, a throwaway host
# key and user key, nothing of the system's configuration), gives it two
# aliases and one alias whose port refuses, and checks that both good
# hosts' run folders come back, the bad one is reported, the exit status is
# 1, and the compare of the two is printed. Exit 77 (skipped) without sshd
# or GNU parallel.
set -euo pipefail

IOB=${IOB:?set by meson}
sshd=/usr/sbin/sshd
for p in "$sshd" ssh ssh-keygen parallel; do
	command -v "$p" >/dev/null || { echo "skip: $p is not installed"; exit 77; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/iobtest-fleet-XXXXXX")
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

ssh-keygen -q -t ed25519 -N '' -f "$tmp/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$tmp/user_key"
cp "$tmp/user_key.pub" "$tmp/authorized_keys"
chmod 600 "$tmp/authorized_keys"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$tmp/sshd_config" <<CFG
ListenAddress 127.0.0.1
Port $port
HostKey $tmp/host_key
AuthorizedKeysFile $tmp/authorized_keys
PidFile $tmp/sshd.pid
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
CFG
# As root, sshd wants its privilege separation directory (the package's
# service creates it at boot; nothing runs here to do so).
if [ "$(id -u)" = 0 ] && [ ! -d /run/sshd ]; then
	mkdir -p -m 0755 /run/sshd
fi
"$sshd" -f "$tmp/sshd_config" -D -e 2>"$tmp/sshd.log" &
pid=$!
cat > "$tmp/ssh_config" <<CFG
Host h1 h2
	HostName 127.0.0.1
	Port $port
Host refused
	HostName 127.0.0.1
	Port 1
Host *
	User $(id -un)
	IdentityFile $tmp/user_key
	IdentitiesOnly yes
	StrictHostKeyChecking no
	UserKnownHostsFile $tmp/known_hosts
	BatchMode yes
	ConnectTimeout 10
CFG
for i in $(seq 50); do
	ssh -F "$tmp/ssh_config" h1 true 2>/dev/null && break
	sleep 0.2
done
ssh -F "$tmp/ssh_config" h1 true || { cat "$tmp/sshd.log"; echo "FAIL: sshd did not come up"; exit 1; }

printf 'h1\nh2  # the same machine again\nrefused\n' > "$tmp/hosts"
printf 'cmdq rounds=100 batches=1,8\n' > "$tmp/matrix.txt"
mkdir "$tmp/remote"
set +e
IOB_FLEET_SSH="ssh -F $tmp/ssh_config" IOB_FLEET_REMOTE_BASE="$tmp/remote" \
	"$IOB" fleet "$tmp/hosts" --results "$tmp/results" "$tmp/matrix.txt" --repeat 2 --no-plot \
	> "$tmp/out" 2> "$tmp/err"
status=$?
set -e
cat "$tmp/out"
fail() { echo "FAIL: $*"; tail -40 "$tmp/err"; exit 1; }
[ "$status" = 1 ] || fail "exit status $status, expected 1 (one host refused)"
grep -q "refused failed" "$tmp/err" || fail "the refused host is not reported"
n=$(ls "$tmp/results" | grep -c '_h[12]$' || true)
[ "$n" = 2 ] || fail "$n run folders came back, expected 2: $(ls "$tmp/results")"
for d in "$tmp"/results/*_h1 "$tmp"/results/*_h2; do
	grep -q '"status": "complete"' "$d/meta.json" || fail "$d is not complete"
	[ -f "$d/cmdq.csv" ] || fail "$d has no cmdq.csv"
done
grep -q "against A" "$tmp/out" || fail "no compare printed"
echo "ok: two hosts ran, one refused and reported, compared"
