#!/usr/bin/env python3
"""table.py OUT_DIR - the table of docs/methodology.md ("The page table
against Linux's") from the summary.csv that the peer harness's run.sh
(summarize.py) writes into OUT_DIR.

Per case and op: the best Linux back end (the smaller median of the per-run
medians of linux61 and iommupt) with its spread [smallest..largest per-run
median], then the project's table on the kernel's terms with the project's
page sizes (iob-kernel: 4K/2M/1G) and with Linux's (iob-kernel-pow2: every
power of two), each with its spread and its ratio to the best Linux median;
a ratio above 1 is bold. The date, load and commit come from meta.txt.
"""
import csv
import os
import sys

LINUX = (('linux61', '6.1'), ('iommupt', 'pt'))
OURS = ('iob-kernel', 'iob-kernel-pow2')


def fmt(x):
    return '%.1f' % x if x < 1000 else '%.0f' % x


def main():
    if len(sys.argv) != 2:
        sys.exit('usage: table.py OUT_DIR (a results folder of the peer harness run.sh)')
    out = sys.argv[1]
    path = os.path.join(out, 'summary.csv')
    if not os.path.isfile(path):
        print('table.py: %s: no such file (run the harness first)' % path, file=sys.stderr)
        sys.exit(2)
    cell = {}
    order = []
    with open(path) as fh:
        for r in csv.DictReader(fh):
            key = (r['case'], r['op'])
            if key not in order:
                order.append(key)
            cell[(r['config'],) + key] = (float(r['median_of_run_medians_ns']),
                                          float(r['min_run_median_ns']),
                                          float(r['max_run_median_ns']))
    missing = [c for c in [n for n, _ in LINUX] + list(OURS)
               if not any(k[0] == c for k in cell)]
    if missing:
        print('table.py: %s has no rows for %s' % (path, ', '.join(missing)), file=sys.stderr)
        sys.exit(2)
    meta = os.path.join(out, 'meta.txt')
    if os.path.isfile(meta):
        for line in open(meta):
            if line.startswith(('date:', 'loadavg', 'iommubench:', 'runs:')):
                print(line.rstrip())
        print()
    print('| case | op | best Linux | 4K/2M/1G | ratio | every power of two | ratio |')
    print('|---|---|---|---|---|---|---|')
    worst = {c: 0.0 for c in OURS}
    for key in order:
        lin = [(cell[(n,) + key], short) for n, short in LINUX if (n,) + key in cell]
        if not lin:
            continue
        (best, lo, hi), short = min(lin, key=lambda t: t[0][0])
        cols = ['%s %s [%s..%s]' % (short, fmt(best), fmt(lo), fmt(hi))]
        for c in OURS:
            v = cell.get((c,) + key)
            if v is None:
                cols += ['-', '-']
                continue
            ratio = v[0] / best
            worst[c] = max(worst[c], ratio)
            r = '%.2f' % ratio
            cols += ['%s [%s..%s]' % (fmt(v[0]), fmt(v[1]), fmt(v[2])),
                     '**%s**' % r if ratio > 1.0 else r]
        print('| %s | %s | %s |' % (key[0], key[1], ' | '.join(cols)))
    print()
    print('largest ratio: %s' % ', '.join('%s %.2f' % (c, worst[c]) for c in OURS))


if __name__ == '__main__':
    main()
