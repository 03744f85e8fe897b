"""A Spark Connect URL works: RIGHTRESPONSE_SPARK_MASTER=sc://host:port sends the analysis there.

A Spark Connect server (PySpark's own, local[2] with the Connect plugin, bound to loopback on a
free port) runs in a child process; the client runs in other child processes, as a user's
would (a Connect client in the test process would switch PySpark to Connect mode for the
other Spark tests). Needs pyspark[connect] (grpcio etc.) and Java 17; skips without them
(and fails in CI, where they are installed).
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys

import pytest
from conftest import skip_or_fail

pytestmark = pytest.mark.spark


SERVER = """
import sys
from pyspark.sql import SparkSession
s = (SparkSession.builder.master("local[2]").appName("rightresponse-test-connect")
     .config("spark.plugins", "org.apache.spark.sql.connect.SparkConnectPlugin")
     .config("spark.connect.grpc.binding.address", "127.0.0.1")
     .config("spark.connect.grpc.binding.port", sys.argv[1])
     .config("spark.ui.enabled", "false").config("spark.driver.bindAddress", "127.0.0.1")
     .config("spark.driver.host", "127.0.0.1").config("spark.sql.shuffle.partitions", "8").getOrCreate())
print("ready", flush=True)
sys.stdin.read()  # until the test closes stdin
s.stop()
"""


@pytest.fixture(scope="module")
def connect_url():
    # pyspark[connect]: grpcio, grpcio-status, googleapis-common-protos, zstandard
    if any(importlib.util.find_spec(m) is None for m in ("pyspark", "grpc", "grpc_status", "zstandard")):
        skip_or_fail("pyspark[connect] is not installed (pip install 'pyspark[connect]')")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        if proc.stdout.readline().strip() != "ready":  # waits until the server is up or has died
            pytest.fail(f"Spark Connect server did not start (exit {proc.poll()})")
        yield f"sc://127.0.0.1:{port}"
    finally:
        proc.stdin.close()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()



def _run(args, env=None) -> str:
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=600,
                          env=None if env is None else os.environ | env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_spark_session_connects_to_the_url(connect_url):
    out = _run(["-c", "from rightresponse.backends import spark_session; s = spark_session(); "
                      "print(type(s).__module__, s.range(7).count())"],
               env={"RIGHTRESPONSE_SPARK_MASTER": connect_url})
    assert out.split() == ["pyspark.sql.connect.session", "7"]


def test_cli_assess_over_spark_connect_same_json(connect_url, small_ws, tmp_path):
    def cli(out, *extra, env=None):
        d = json.loads(_run(["-m", "rightresponse.cli", "assess", "--workspace", str(small_ws), "--out", str(out),
                             "--min-cell", "0", "--json", *extra], env=env).strip().splitlines()[-1])
        d["report"] = d["report"].replace(str(out), "OUT")
        d["files"] = [f.replace(str(out), "OUT") for f in d["files"]]
        return d

    duck = cli(tmp_path / "duck")
    spk = cli(tmp_path / "spark", "--engine", "spark", env={"RIGHTRESPONSE_SPARK_MASTER": connect_url})
    assert json.dumps(spk, sort_keys=True) == json.dumps(duck, sort_keys=True)
    assert duck["calls"] > 1000 and (tmp_path / "spark" / "report.html").is_file()
