#!/usr/bin/env bash
# Creates a virtual environment for the example and installs its
# dependencies (confluent-kafka, fastavro) from PyPI.
#
#   ./setup.sh [VENV_DIR]      # default: .venv beside this script
#
# Then: VENV_DIR/bin/python sku_history.py --brokers 127.0.0.1:9092 TEE-RED-M
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${1:-$here/.venv}"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"
"$venv/bin/python" -c 'import confluent_kafka, fastavro; from importlib.metadata import version as v; print("ready: confluent-kafka", v("confluent-kafka"), "(librdkafka " + confluent_kafka.libversion()[0] + "), fastavro", v("fastavro"))'
