#!/usr/bin/env bash
# One host of `iob fleet` (bench/cmd_fleet.c), run by GNU parallel:
#   fleet-host.sh ALIAS TARBALL RESULTS STATE [iob matrix args...]
# Copies the checkout in TARBALL to ~/iommubench-fleet-ALIAS on ALIAS over
# ssh, runs `./run matrix` there, brings the run folder back into RESULTS
# and writes its local path to STATE/ALIAS.path. The ssh command is
# $IOB_FLEET_SSH (default: ssh -o BatchMode=yes). Exit status: the first
# failing step's.
set -euo pipefail

alias=$1 tarball=$2 results=$3 state=$4
shift 4
read -r -a ssh_cmd <<< "${IOB_FLEET_SSH:-ssh -o BatchMode=yes}"
# Relative to the remote home unless $IOB_FLEET_REMOTE_BASE says where.
remote="${IOB_FLEET_REMOTE_BASE:-.}/iommubench-fleet-$alias"

rsh() { "${ssh_cmd[@]}" "$alias" "$@"; }

# Runs of two aliases of one machine must not share a folder name.
if [ "${IOB_FLEET_AUTO_LABEL:-0}" = 1 ]; then
	set -- "$@" --label "$(printf '%s' "$alias" | tr -c 'A-Za-z0-9._-' '-')"
fi

rsh "rm -rf '$remote' && mkdir -p '$remote' && tar -xzf - -C '$remote'" < "$tarball"
# The run folder's path is the last line on stdout (iob matrix prints it).
args=$(printf '%q ' "$@")
folder=$(rsh "cd '$remote' && ./run matrix --results fleet-results $args" | tail -n 1)
name=${folder##*/}
case "$name" in
	''|*/*|.*) echo "fleet-host: $alias: no run folder reported" >&2; exit 1 ;;
esac
mkdir -p "$results"
rsh "tar -cf - -C '$remote/fleet-results' '$name'" | tar -xf - -C "$results"
printf '%s\n' "$results/$name" > "$state/$alias.path"
