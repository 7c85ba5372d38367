"""Helpers of the Python checks in scripts/e2e-cluster.sh and scripts/e2e-upgrade.sh: the ok/FAIL
lines (their names collected in `passed` and `failed`) and small utilities."""
import base64, hashlib, socket

passed, failed = [], []


def ok(name, detail=""):
    passed.append(name)
    print(f"ok   {name}" + (f" ({detail})" if detail else ""), flush=True)


def bad(name, detail):
    failed.append(name)
    print(f"FAIL {name}: {detail}", flush=True)


def check(name, cond, detail_ok, detail_bad):
    (ok(name, detail_ok) if cond else bad(name, detail_bad))
    return cond


def note(msg):
    print(f"     {msg}", flush=True)


def basic(user, pw):
    return "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()


def sha(b):
    return hashlib.sha256(b).hexdigest()


def short(b, n=200):
    s = b.decode("utf-8", "replace") if isinstance(b, bytes) else str(b)
    s = " ".join(s.split())
    return s[:n] + ("…" if len(s) > n else "")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p
