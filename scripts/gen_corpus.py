#!/usr/bin/env python3
"""Deterministic benchmark corpus for enseal vs. the reference sops.

Standard library only; the same seed always gives the same bytes.

usage: scripts/gen_corpus.py OUTDIR

Writes to OUTDIR:
  tiny.yaml     one key (process start-up cost)
  medium.yaml   1,000 leaves: nested mappings, lists, comments
  large.yaml    100,000 leaves: nested mappings, lists of scalars and of
                mappings, str/int/float/bool, block strings, comments
  large.json    100,000 leaves, nested objects and arrays, mixed types
  wide.env      10,000 variables (with comment lines between groups)
  blob.bin      10 MiB of pseudo-random bytes
  gitops/       500 small Kubernetes Secret manifests
  gitops.list   their paths relative to OUTDIR, one per line
  MANIFEST.sha256
"""
import hashlib
import json
import os
import random
import sys

SEED = 424242

SYLLABLES = ["ka", "to", "mi", "re", "su", "no", "va", "li", "de", "pa", "qu", "zo",
             "ri", "ba", "ne", "xo", "fu", "ge", "ho", "ja"]
RESERVED = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}


def word(rng, lo=1, hi=3):
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(lo, hi)))


def new_key(rng, taken):
    while True:
        k = word(rng) + ("_" + word(rng) if rng.random() < 0.5 else "")
        if rng.random() < 0.2:
            k += str(rng.randint(1, 99))
        if k not in taken and k not in RESERVED:
            taken.add(k)
            return k


def scalar(rng, allow_block):
    r = rng.random()
    if r < 0.40:
        return " ".join(word(rng) for _ in range(rng.randint(1, 5)))
    if r < 0.55:
        alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        return "s3cr3t-" + "".join(rng.choice(alphabet) for _ in range(rng.randint(8, 40)))
    if r < 0.62:
        return "https://%s.example.net:%d/%s?x=%d" % (word(rng), rng.randint(1000, 9999), word(rng), rng.randint(0, 9))
    if r < 0.78:
        return rng.randint(-100000, 10 ** 9)
    if r < 0.90:
        return round(rng.uniform(-5000, 5000), rng.randint(1, 4))
    if r < 0.97 or not allow_block:
        return rng.random() < 0.5
    return "\n".join(" ".join(word(rng) for _ in range(rng.randint(2, 6))) for _ in range(rng.randint(2, 5))) + "\n"


def build(rng, leaves, depth, allow_block, lists=True):
    """A dict holding exactly `leaves` scalar leaves."""
    out, taken, left = {}, set(), leaves
    while left > 0:
        k = new_key(rng, taken)
        if left == 1 or depth >= 6 or rng.random() < 0.45:
            out[k] = scalar(rng, allow_block)
            left -= 1
            continue
        n = min(left, rng.randint(2, max(2, leaves // 3)))
        if lists and rng.random() < 0.25 and n <= 300:
            if rng.random() < 0.5:
                out[k] = [scalar(rng, allow_block) for _ in range(n)]
            else:
                items, m = [], n
                while m > 0:
                    c = min(m, rng.randint(1, 4))
                    items.append(build(rng, c, 6, allow_block, lists=False))
                    m -= c
                out[k] = items
        else:
            out[k] = build(rng, n, depth + 1, allow_block, lists)
        left -= n
    return out


def leaf_count(x):
    if isinstance(x, dict):
        return sum(leaf_count(v) for v in x.values())
    if isinstance(x, list):
        return sum(leaf_count(v) for v in x)
    return 1


def y_scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    plain = (v and v[0].isalpha() and v.lower() not in RESERVED and ": " not in v
             and " #" not in v and not v.endswith(":") and not v.endswith(" ")
             and all(c.isalnum() or c in " -_./?=:" for c in v))
    return v if plain else json.dumps(v, ensure_ascii=False)


def y_emit(node, ind, lines, rng, cp):
    pad = " " * ind
    for k, v in node.items():
        if rng.random() < cp:
            lines.append(pad + "# " + " ".join(word(rng) for _ in range(rng.randint(1, 6))))
        y_entry(pad + k + ":", v, ind, lines, rng, cp)


def y_entry(head, v, ind, lines, rng, cp):
    pad = " " * (ind + 2)
    if isinstance(v, dict):
        lines.append(head + (" {}" if not v else ""))
        y_emit(v, ind + 2, lines, rng, cp)
    elif isinstance(v, list):
        lines.append(head + (" []" if not v else ""))
        for item in v:
            if isinstance(item, dict):
                first = True
                for k2, v2 in item.items():
                    prefix = pad + ("- " if first else "  ")
                    y_entry(prefix + k2 + ":", v2, ind + 4, lines, rng, 0)
                    first = False
            else:
                y_entry(pad + "-", item, ind + 2, lines, rng, cp)
    elif isinstance(v, str) and "\n" in v:
        lines.append(head + " |")
        lines.extend(pad + line for line in v.rstrip("\n").split("\n"))
    else:
        lines.append(head + " " + y_scalar(v))


def to_yaml(tree, rng, cp, title):
    lines = ["# " + title]
    y_emit(tree, 0, lines, rng, cp)
    return "\n".join(lines) + "\n"


def dotenv(rng, n):
    lines, taken = [], set()
    for i in range(n):
        if i % 250 == 0:
            lines.append("# group %d" % (i // 250))
        while True:
            name = ("%s_%s_%d" % (word(rng), word(rng), i)).upper()
            if name not in taken:
                taken.add(name)
                break
        v = scalar(rng, False)
        if isinstance(v, bool):
            v = "true" if v else "false"
        lines.append("%s=%s" % (name, v))
    return "\n".join(lines) + "\n"


def manifest(rng, i):
    name = "%s-%d" % (word(rng, 2, 3), i)
    data = {}
    for _ in range(rng.randint(2, 6)):
        data[(word(rng) + "_" + rng.choice(["password", "token", "key", "dsn"])).upper()] = scalar(rng, False)
    lines = ["apiVersion: v1", "kind: Secret", "metadata:", "  name: " + name,
             "  namespace: " + rng.choice(["prod", "staging", "dev"]), "type: Opaque", "stringData:"]
    for k, v in data.items():
        lines.append("  %s: %s" % (k, json.dumps(str(v))))
    return "\n".join(lines) + "\n"


def put(path, data):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode("utf-8"))


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)

    def rng(tag):
        return random.Random("%d:%s" % (SEED, tag))

    put(os.path.join(out, "tiny.yaml"), "message: hello world\n")

    r = rng("medium")
    t = build(r, 1000, 0, True)
    assert leaf_count(t) == 1000
    put(os.path.join(out, "medium.yaml"), to_yaml(t, r, 0.03, "medium: 1,000 leaves"))

    r = rng("large")
    t = build(r, 100000, 0, True)
    assert leaf_count(t) == 100000
    put(os.path.join(out, "large.yaml"), to_yaml(t, r, 0.01, "large: 100,000 leaves"))

    r = rng("json")
    t = build(r, 100000, 0, False)
    assert leaf_count(t) == 100000
    put(os.path.join(out, "large.json"), json.dumps(t, indent=2, ensure_ascii=False) + "\n")

    put(os.path.join(out, "wide.env"), dotenv(rng("env"), 10000))
    put(os.path.join(out, "blob.bin"), rng("blob").randbytes(10 * 1024 * 1024))

    r = rng("gitops")
    rels = []
    for i in range(500):
        rel = "gitops/%s/%s/secret-%03d.yaml" % (r.choice(["east", "west", "north"]), word(r, 2, 2), i)
        put(os.path.join(out, rel), manifest(r, i))
        rels.append(rel)
    put(os.path.join(out, "gitops.list"), "\n".join(rels) + "\n")

    lines = []
    for name in sorted(os.listdir(out)):
        p = os.path.join(out, name)
        if os.path.isfile(p) and name != "MANIFEST.sha256":
            with open(p, "rb") as f:
                lines.append("%s  %s" % (hashlib.sha256(f.read()).hexdigest(), name))
    put(os.path.join(out, "MANIFEST.sha256"), "\n".join(lines) + "\n")
    print("corpus written to %s" % out)


if __name__ == "__main__":
    main()
