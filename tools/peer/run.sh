#!/usr/bin/env bash
# tools/peer/run.sh PEER_DIR [BENCH_ARGS...] - the peer harness
# linux-amd-pgtable (kept outside this repository: it compiles Linux
# source) against this checkout's page table, on the kernel's terms.
#
#  1. copies PEER_DIR to a scratch folder (the harness itself is never
#     written to) and applies peer-harness.patch beside this script: the
#     layered include folders, the kernel-flags variant linked against the
#     project's own libiob_pgtable_kflags.a (meson option pgtable_kflags)
#     instead of compiling iopt.c itself, and the configurations iob-kernel
#     (IOPT_F_SHARED, no lock, kernel code-generation flags, 4K/2M/1G) and
#     iob-kernel-pow2 (the same with every power of two, Linux's sizes);
#  2. builds this checkout (release, pgtable_kflags) in a build folder of
#     its own under the scratch folder;
#  3. builds the harness's back ends (build.sh: Linux 6.1's io_pgtable.c
#     from Debian's source package, generic_pt from PEER_DIR/generic-pt-src,
#     checked against its sha256 list) and runs them interleaved (run.sh):
#     RUNS runs of each configuration, pinned to CPU;
#  4. prints the harness's summary and the table of docs/methodology.md
#     ("The page table against Linux's"), made by table.py beside this script.
#
# BENCH_ARGS go to every benchmark binary (e.g. --scale 0.2 for a quick look).
# Environment (all optional):
#   RUNS         interleaved runs (5)          CPU      CPU to pin to (1)
#   CONFIGS      configurations to run ("linux61 iommupt iob-kernel iob-kernel-pow2";
#                the patched run.sh lists the others)
#   WORK         scratch folder (a new one under $TMPDIR); kept, with the results
#   OUT_DIR      results folder (default $WORK/results)
#   DEBSRC_DIR   where Debian's linux source package is or goes
#                (default ${XDG_CACHE_HOME:-$HOME/.cache}/iommubench/linux-debsrc;
#                the download needs a deb-src entry for bookworm, see the
#                harness's README)
#   MESON_ARGS   extra options for the project's meson setup
set -euo pipefail

usage() {
	echo "usage: $0 PEER_DIR [BENCH_ARGS...]   (PEER_DIR: the linux-amd-pgtable harness)" >&2
	exit 2
}
[ $# -ge 1 ] || usage
case $1 in -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;; esac
peer=$1
shift
for f in build.sh run.sh summarize.py src/bench_iob_iopt.c generic-pt-src \
	 generic-pt-fetch/linux-pt.sha256; do
	if [ ! -e "$peer/$f" ]; then
		echo "$0: $peer is not the linux-amd-pgtable harness: no $f in it" >&2
		exit 2
	fi
done
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
peer=$(cd "$peer" && pwd)

# Run "$@" with its output in the log $1; on failure show the log's end.
step() {
	local log=$1
	shift
	if ! "$@" > "$log" 2>&1; then
		echo "$0: failed: $* (log: $log)" >&2
		tail -n 20 "$log" >&2
		exit 1
	fi
}

work=${WORK:-$(mktemp -d "${TMPDIR:-/tmp}/iob-peer.XXXXXX")}
mkdir -p "$work"
work=$(cd "$work" && pwd)
harness=$work/harness

# 1. the harness, copied and adapted
rm -rf "$harness"
cp -r "$peer" "$harness"
chmod -R u+w "$harness"
patch -s -d "$harness" -p1 < "$here/peer-harness.patch"
(cd "$harness/generic-pt-src" && sha256sum --quiet -c "$harness/generic-pt-fetch/linux-pt.sha256")

# 2. this checkout's libraries, release, with the kernel-flags page table
iob=$work/iob-build
if [ ! -f "$iob/build.ninja" ]; then
	# shellcheck disable=SC2086
	step "$work/meson-setup.log" meson setup "$iob" "$src" --buildtype=release \
		-Dpgtable_kflags=true -Dtests=false ${MESON_ARGS:-}
fi
step "$work/ninja.log" ninja -C "$iob" -j2 lib/libiommubench.a lib/libiob_pgtable_kflags.a

# 3. the back ends, then the interleaved runs
export WORK_DIR=$work/work
export DEBSRC_DIR=${DEBSRC_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/iommubench/linux-debsrc}
step "$work/build.log" env LINUX_PT_SRC="$harness/generic-pt-src" IOB_SRC="$src" \
	IOB_BUILD="$iob" "$harness/build.sh"
out=${OUT_DIR:-$work/results}
OUT_DIR=$out RUNS=${RUNS:-5} CPU=${CPU:-1} \
	CONFIGS=${CONFIGS:-linux61 iommupt iob-kernel iob-kernel-pow2} \
	"$harness/run.sh" "$@" 2> "$work/run.log"

# 4. the table of docs/methodology.md
echo
python3 "$here/table.py" "$out"
echo "scratch folder (logs, harness, builds): $work"
