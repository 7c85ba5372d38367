#!/usr/bin/env python3
"""Wrong-password flood for bench/load.sh: N keep-alive connections from a chosen source
address (127.0.0.2: Arca throttles failed logins per client address, and wrk cannot bind one)
sending GETs with the given Authorization as fast as the answers come. Writes a JSON summary:
requests, answers by status, connection errors, requests/s.

Usage: login-flood.py --port P --auth 'Basic …' --path /repository/… [--connections 200]
                      [--duration 60] [--bind 127.0.0.2] [--out FILE]
"""
import argparse
import asyncio
import collections
import json
import sys
import time


async def one(args, deadline, stats):
    req = (f"GET {args.path} HTTP/1.1\r\nHost: 127.0.0.1:{args.port}\r\n"
           f"Authorization: {args.auth}\r\n\r\n").encode()
    while time.monotonic() < deadline:
        try:
            r, w = await asyncio.wait_for(asyncio.open_connection(
                "127.0.0.1", args.port, local_addr=(args.bind, 0)), 5)
        except (OSError, asyncio.TimeoutError):
            stats["connect_errors"] += 1
            await asyncio.sleep(0.05)
            continue
        try:
            while time.monotonic() < deadline:
                w.write(req)
                await w.drain()
                left = deadline - time.monotonic()
                head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), max(left, 0.01))
                lines = head.decode("latin-1").split("\r\n")
                status = lines[0].split(" ")[1]
                hdrs = {k.strip().lower(): v.strip() for k, _, v in
                        (h.partition(":") for h in lines[1:] if h)}
                if "content-length" in hdrs:
                    await r.readexactly(int(hdrs["content-length"]))
                elif hdrs.get("transfer-encoding", "").lower() == "chunked":
                    while True:
                        size = int((await r.readuntil(b"\r\n")).split(b";")[0], 16)
                        await r.readexactly(size + 2)
                        if size == 0:
                            break
                stats["requests"] += 1
                stats["status"][status] += 1
                if hdrs.get("connection", "").lower() == "close":
                    break
        except asyncio.TimeoutError:
            pass  # the run is over with a request outstanding
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, IndexError):
            stats["read_errors"] += 1
        finally:
            w.close()


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--auth", required=True)
    ap.add_argument("--path", required=True)
    ap.add_argument("--connections", type=int, default=200)
    ap.add_argument("--duration", type=float, default=60)
    ap.add_argument("--bind", default="127.0.0.2")
    ap.add_argument("--out")
    args = ap.parse_args()
    stats = {"requests": 0, "status": collections.Counter(), "connect_errors": 0, "read_errors": 0}
    t0 = time.monotonic()
    deadline = t0 + args.duration
    await asyncio.gather(*(one(args, deadline, stats) for _ in range(args.connections)))
    took = time.monotonic() - t0
    res = dict(stats, status=dict(stats["status"]), seconds=round(took, 2),
               rps=round(stats["requests"] / took, 1), source=args.bind,
               connections=args.connections)
    text = json.dumps(res)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    print(text)


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
