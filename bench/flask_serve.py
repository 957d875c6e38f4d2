"""
flask_serve.py — the peer of bench/serving.sh: a Flask server (Debian's
python3-flask, its threaded built-in server) that serves the same model
as the Oast deployment it is compared with, with the same request and
answer: POST /v1/models/NAME:predict {"instances": [...]} ->
{"predictions": [...]}.

usage: flask_serve.py (--xgboost MODEL.json | --sklearn MODEL.pkl)

It prints "flask listening on http://127.0.0.1:PORT" once it listens on
a free loopback port. XGBoost predicts with inplace_predict (what Oast's
answer equals) on one thread, as Oast's native predictor does.
"""

import argparse
import logging
import pickle
import socket
import sys

import numpy as np
from flask import Flask, jsonify, request


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    ap = argparse.ArgumentParser()
    group = ap.add_mutually_exclusive_group(required=True)
    group.add_argument("--xgboost")
    group.add_argument("--sklearn")
    args = ap.parse_args()
    if args.xgboost:
        import xgboost
        booster = xgboost.Booster()
        booster.load_model(args.xgboost)
        booster.set_param({"nthread": 1})

        def predict(x):
            return booster.inplace_predict(np.asarray(x, dtype=np.float32)).tolist()
    else:
        with open(args.sklearn, "rb") as f:
            model = pickle.load(f)

        def predict(x):
            return model.predict(np.asarray(x)).tolist()

    app = Flask("oast-bench-peer")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    @app.post("/v1/models/<name>:predict")
    def serve(name):
        body = request.get_json()
        return jsonify(predictions=predict(body["instances"]))

    port = free_port()
    print("flask listening on http://127.0.0.1:%d" % port, flush=True)
    app.run(host="127.0.0.1", port=port, threaded=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
