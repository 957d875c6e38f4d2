#!/usr/bin/env python3
"""bench/fstore_gen.py ROWS OUT.csv — the feature store benchmark's input:
ROWS rows of 10 mixed columns (the schema bench/fstore.sh declares), made
from a fixed seed so every run ingests the same bytes.

Columns: id bigint (unique, the primary key), user_id int, amount double,
score float, category string (12 values), name string (free text, some
quoted), active boolean, ts timestamp (ISO-8601 UTC), day date, clicks
bigint; about 2% of the non-key cells are empty (null).
"""
import random
import sys

CATS = ["books", "music", "garden", "toys", "games", "food", "sports", "tools", "baby", "beauty",
        "shoes", "travel"]
WORDS = ["alpha", "beta", "gamma", "delta", "omega", "kappa", "sigma", "theta", "zeta", "lambda"]


def main():
    n = int(sys.argv[1])
    out = sys.argv[2]
    rnd = random.Random(42)
    base = 1_700_000_000  # epoch seconds, 2023-11-14
    with open(out, "w", newline="") as f:
        f.write("id,user_id,amount,score,category,name,active,ts,day,clicks\n")
        lines = []
        for i in range(n):
            def cell(v):
                return "" if rnd.random() < 0.02 else v
            secs = base + rnd.randrange(0, 86400 * 365)
            ts = "%sT%02d:%02d:%02dZ" % (_date(secs // 86400), secs // 3600 % 24, secs // 60 % 60, secs % 60)
            name = "%s %s %d" % (rnd.choice(WORDS), rnd.choice(WORDS), rnd.randrange(1000))
            if rnd.random() < 0.05:
                name = '"%s, ""%s"""' % (name, rnd.choice(WORDS))
            lines.append(",".join((
                str(i + 1),
                cell(str(rnd.randrange(1, 100000))),
                cell(repr(round(rnd.uniform(0, 5000), 2))),
                cell(repr(round(rnd.random(), 4))),
                cell(rnd.choice(CATS)),
                cell(name),
                cell("true" if rnd.random() < 0.5 else "false"),
                cell(ts),
                cell(_date(secs // 86400 - rnd.randrange(30))),
                cell(str(rnd.randrange(0, 10 ** 6))),
            )))
            if len(lines) == 10000:
                f.write("\n".join(lines) + "\n")
                lines = []
        if lines:
            f.write("\n".join(lines) + "\n")


_DAYS = {}


def _date(days):
    d = _DAYS.get(days)
    if d is None:
        import datetime
        d = _DAYS[days] = (datetime.date(1970, 1, 1) + datetime.timedelta(days=days)).isoformat()
    return d


if __name__ == "__main__":
    main()
