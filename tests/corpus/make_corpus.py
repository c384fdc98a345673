"""Write the reliability corpus (issue 17): the hostile inputs that once broke lbalgo's readers.

Each file is replayed by ``tests/test_fuzz.py::test_corpus`` (and used as a
Hypothesis example); the expected outcome of each is listed there. Run
``python tests/corpus/make_corpus.py`` to rewrite them.
"""

import io
import json
import struct
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent


def write(name: str, data: bytes | str) -> None:
    path = HERE / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)


def slice_doc(address: str = "10.0.0.1") -> dict:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": "web-1", "namespace": "shop", "labels": {"kubernetes.io/service-name": "web"}},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        "endpoints": [{"addresses": [address]}],
    }


def npy_header(descr: str, shape: tuple) -> bytes:
    header = f"{{'descr': {descr}, 'fortran_order': False, 'shape': {shape}, }}"
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1")


def main() -> None:
    # -- scenarios
    write(
        "scenario/deep.toml",
        "name = 'x'\nconnections = " + "[" * 1000 + "]" * 1000 + "\n[pool]\nweights = [1]\n",
    )
    write("scenario/deep-table.toml", "[pool]\nweights = [1]\n[" + ".".join(["a"] * 1000) + "]\nx = 1\n")
    write("scenario/dotted-keys.toml", "a" + ".a" * 20000 + " = 1\n[pool]\nweights = [1]\n")
    write("scenario/deep.json", '{"pool": {"weights": ' + "[" * 1000 + "1" + "]" * 1000 + "}}")
    write("scenario/latin1.toml", "name = 'caf\xe9'\n[pool]\nweights = [1]\n".encode("latin1"))
    write(
        "scenario/bom.toml", b"\xef\xbb\xbf" + b"name = 'bom'\nconnections = 100\n[pool]\nweights = [1, 2]\n"
    )
    write(
        "scenario/onoff-overflow.toml",
        "[pool]\nweights = [1]\n[arrivals]\nmodel = 'onoff'\nrate = 1\nmean_on = 1e308\nmean_off = 1e308\n",
    )
    write("scenario/huge-int.toml", "connections = " + "9" * 5000 + "\n[pool]\nweights = [1]\n")
    # -- EndpointSlices
    write("slices/deep.json", "[" * 1000 + "]" * 1000)
    write("slices/deep.yaml", "a: " + "[" * 1000 + "]" * 1000 + "\n")
    write("slices/deep-block.yaml", "".join("  " * i + "a:\n" for i in range(200)) + "  " * 200 + "b: 1\n")
    bomb = ["apiVersion: discovery.k8s.io/v1", "kind: EndpointSlice", "a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    bomb += [
        f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, "
        f"*a{i - 1}, *a{i - 1}]"
        for i in range(1, 9)
    ]
    bomb += ["metadata: {name: web, namespace: *a8}", "addressType: IPv4", "endpoints: []"]
    write("slices/alias-bomb.yaml", "\n".join(bomb) + "\n")
    write("slices/latin1.json", json.dumps(slice_doc()).replace("web-1", "caf\xe9").encode("latin1"))
    for name, address in (
        ("space", "10.0.0.1 "),
        ("zone", "fe80::1%eth0"),
        ("unspecified", "0.0.0.0"),
        ("loopback", "127.0.0.1"),
        ("link-local", "169.254.1.1"),
    ):
        doc = slice_doc(address)
        if ":" in address:
            doc["addressType"] = "IPv6"
        write(f"slices/address-{name}.json", json.dumps(doc))
    write("slices/address-broadcast.json", json.dumps(slice_doc("255.255.255.255")))
    write("slices/bom.yaml", b"\xef\xbb\xbf" + json.dumps(slice_doc()).encode())
    # -- traces
    write("traces/big-field.csv", 'arrival,lifetime\n0,"' + "1" * 140_000 + '"\n')
    write("traces/bom.csv", b"\xef\xbb\xbfarrival,lifetime,client\n0.5,1,10.0.0.1\n1.5,2,10.0.0.2\n")
    write("traces/latin1.csv", b"arrival,lifetime,client\n0,1,10.0.0.1\n1,2,caf\xe9\n")
    write("traces/empty.npy", b"")
    write("traces/empty.npz", b"")
    write("traces/not-a-zip.npz", b"PK\x03\x04 this is not a zip archive")
    write(
        "traces/huge-shape.npy",
        npy_header("[('arrival', '<f8'), ('lifetime', '<f8')]", (100_000_000_000,)) + b"\0" * 64,
    )
    write(
        "traces/short-data.npy", npy_header("[('arrival', '<f8'), ('lifetime', '<f8')]", (1000,)) + b"\0" * 64
    )
    buf = io.BytesIO()
    np.savez_compressed(buf, arrival=np.zeros(10_000_000), lifetime=np.zeros(10_000_000))  # 160 MB inflated
    write("traces/inflates-160MB.npz", buf.getvalue())


if __name__ == "__main__":
    main()
