"""prepare.py — a job of the example pipeline (examples/jobs/pipeline.yaml).

Runs on the server as the user who started the pipeline: `import oast`
needs no address or key (OAST_ADDR and OAST_API_KEY are set), and the
connection only reaches the job's own project. It writes a small CSV of
features into the project and marks it done with a _SUCCESS file that the
pipeline's sensor waits for.
"""

import os
import random
import sys

import oast

rows = int(sys.argv[1]) if len(sys.argv) > 1 else 100
project = oast.connect().projects.get(os.environ["OAST_PROJECT"])
rng = random.Random(7)
lines = ["id,amount,label"] + ["%d,%.2f,%d" % (i, rng.uniform(0, 100), rng.random() < 0.3) for i in range(rows)]
project.files.upload("\n".join(lines).encode() + b"\n", "Resources/prepared/data.csv")
project.files.upload(b"", "Resources/prepared/_SUCCESS")
print("prepared %d rows" % rows)
